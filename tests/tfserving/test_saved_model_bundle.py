"""A version runs as TF Serving runs it: TF1 loader, one Session, the graph decides shapes.

Library-level tests of the bundle, Predict, Classify/Regress and warmup on small
TF1-style SavedModels and Keras 3 exports; the servers' tests use the same models.
"""

import threading
from collections.abc import Callable
from pathlib import Path

import grpc
import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import classification_pb2, predict_pb2, prediction_log_pb2

from covertype import defaults
from tests.tfserving.tf1_models import export_gated, export_half_plus_two
from tfserving.core.servable_id import ServableId
from tfserving.errors import ServingError
from tfserving.monitoring import Metrics
from tfserving.servables.classification_regression import InferenceOptions, run_classify
from tfserving.servables.predict_util import run_predict
from tfserving.servables.saved_model_bundle import SavedModelBundle, load_saved_model_bundle
from tfserving.servables.saved_model_loader import LoaderOptions, SavedModelLoader
from tfserving.servables.session_bundle_config import (
    SessionBundleConfig,
    SessionConfigError,
    build_session_config,
)
from tfserving.servables.tensor_codec import TensorEncoding

SPEC = tf.TensorSpec([None, 3], tf.float32, name="x")


def load(path: Path, config: SessionBundleConfig | None = None) -> SavedModelBundle:
    return load_saved_model_bundle(ServableId("m", 1), path, config or SessionBundleConfig())


@pytest.fixture(scope="module")
def half_plus_two(tmp_path_factory: pytest.TempPathFactory) -> SavedModelBundle:
    return load(export_half_plus_two(tmp_path_factory.mktemp("half_plus_two") / "1"))


def predict_request(values: list[float], shape: list[int]) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "m"
    request.inputs["x"].dtype = types_pb2.DT_FLOAT
    request.inputs["x"].float_val.extend(values)
    for size in shape:
        request.inputs["x"].tensor_shape.dim.add().size = size
    return request


def failure(call: Callable[[], object]) -> ServingError:
    with pytest.raises(ServingError) as raised:
        call()
    return raised.value


def test_the_graph_decides_input_shapes(half_plus_two: SavedModelBundle) -> None:
    # x is declared [-1, 1]; TF Serving runs [3] and [1] (and the graph computes them).
    response = run_predict(half_plus_two, predict_request([2.0, 3.0, 4.0], [3]))
    y = response.outputs["y"]
    assert list(y.float_val) == [3.0, 3.5, 4.0]
    assert [d.size for d in y.tensor_shape.dim] == [3]
    assert not y.tensor_content
    assert response.model_spec.signature_name == "serving_default"


def test_a_wrong_input_name_gets_tf_servings_message(half_plus_two: SavedModelBundle) -> None:
    request = predict_request([2.0], [1])
    request.inputs["z"].CopyFrom(request.inputs.pop("x"))
    error = failure(lambda: run_predict(half_plus_two, request))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.message == (
        "Signature input alias: x(feed name: x:0) not found in request and no default value "
        "provided. Inputs expected to be in the request {z}, or default input alias set: "
    )


def test_outputs_go_in_tensor_content_when_asked(half_plus_two: SavedModelBundle) -> None:
    request = predict_request([2.0], [1])
    y = run_predict(half_plus_two, request, TensorEncoding.TENSOR_CONTENT).outputs["y"]
    assert not y.float_val
    assert tf.make_ndarray(y).tolist() == [3.0]


def test_a_graph_refusal_is_invalid_argument_naming_the_input(tmp_path: Path) -> None:
    inputs = keras.Input((3,), name="x")
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", lambda x: {"y": model(x)}, input_signature=[SPEC])
    archive.write_out(str(tmp_path / "1"), verbose=False)
    request = predict_request([1.0] * 8, [2, 4])
    error = failure(lambda: run_predict(load(tmp_path / "1"), request))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.message.endswith(
        "(input 'x' has shape [2, 4]; signature 'serving_default' declares [-1, 3] (-1: any size))"
    )


def test_classify_and_regress_serve_predict_method_signatures(
    half_plus_two: SavedModelBundle,
) -> None:
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "m"
    request.model_spec.signature_name = "classify_x_to_y"
    request.input.example_list.examples.add().features.feature["x"].float_list.value.append(2.0)
    response = run_classify(half_plus_two, request)
    assert [[c.score for c in r.classes] for r in response.result.classifications] == [[3.0]]
    assert (response.model_spec.signature_name, response.model_spec.version.value) == (
        "classify_x_to_y",
        1,
    )
    checked = InferenceOptions(method_name_check=True)
    error = failure(lambda: run_classify(half_plus_two, request, checked))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.message == (
        "Expected classification signature method_name to be tensorflow/serving/classify. "
        "Was: tensorflow/serving/predict"
    )


def test_a_signature_on_tensors_cannot_classify(half_plus_two: SavedModelBundle) -> None:
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "m"
    request.input.example_list.examples.add()
    error = failure(lambda: run_classify(half_plus_two, request))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.message.startswith("No classification inputs found in SignatureDef:")


def test_a_run_past_its_timeout_is_deadline_exceeded(tmp_path: Path) -> None:
    bundle = load(export_gated(tmp_path / "1"))
    inputs = {
        "started": np.array(str(tmp_path / "started").encode(), dtype=object),
        "release": np.array(str(tmp_path / "never").encode(), dtype=object),
        "x": np.array([1.0], np.float32),
    }
    error = failure(lambda: bundle.session.run("serving_default", inputs, ["y"], 200))
    assert error.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert (tmp_path / "started").exists()


def test_a_run_waits_for_its_release(tmp_path: Path) -> None:
    bundle = load(export_gated(tmp_path / "1"))
    started, release = tmp_path / "started", tmp_path / "release"
    inputs = {
        "started": np.array(str(started).encode(), dtype=object),
        "release": np.array(str(release).encode(), dtype=object),
        "x": np.array([1.0, 2.0], np.float32),
    }
    result: dict[str, np.ndarray] = {}
    runner = threading.Thread(
        target=lambda: result.update(bundle.session.run("serving_default", inputs, ["y"]))
    )
    runner.start()
    while not started.exists():
        runner.join(0.01)
    assert not result
    release.touch()
    runner.join()
    assert result["y"].tolist() == [3.0, 5.0]


def test_tags_must_match_a_meta_graph(tmp_path: Path) -> None:
    path = export_half_plus_two(tmp_path / "1")
    error = failure(lambda: load(path, SessionBundleConfig(saved_model_tags=("serve", "gpu"))))
    assert error.code == grpc.StatusCode.NOT_FOUND
    assert "Could not find meta graph def matching supplied tags: { serve gpu }" in error.message


def test_thread_flags_follow_tf_serving() -> None:
    # 0 (auto): one core per op, the ops in the thread that runs the request
    config = build_session_config()
    assert (config.intra_op_parallelism_threads, config.inter_op_parallelism_threads) == (1, -1)
    config = build_session_config(intra_op_parallelism=2, inter_op_parallelism=-1)
    assert (config.intra_op_parallelism_threads, config.inter_op_parallelism_threads) == (2, -1)
    config = build_session_config(session_parallelism=3)
    assert (config.intra_op_parallelism_threads, config.inter_op_parallelism_threads) == (3, 3)
    config = build_session_config(session_parallelism=3, intra_op_parallelism=2)
    assert (config.intra_op_parallelism_threads, config.inter_op_parallelism_threads) == (2, -1)
    with pytest.raises(SessionConfigError, match="You cannot configure all"):
        build_session_config(session_parallelism=1, intra_op_parallelism=1, inter_op_parallelism=1)
    bf16 = build_session_config(mixed_precision="bfloat16").graph_options.rewrite_options
    assert bf16.auto_mixed_precision_onednn_bfloat16 == bf16.ON


def write_warmup(path: Path) -> None:
    log = prediction_log_pb2.PredictionLog()
    request = log.predict_log.request
    request.model_spec.name = "m"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.ones((2, 3), np.float32)))
    (path / defaults.ASSETS_EXTRA).mkdir()
    with tf.io.TFRecordWriter(str(path / defaults.ASSETS_EXTRA / defaults.WARMUP_FILE)) as writer:
        writer.write(log.SerializeToString())


def keras_model() -> keras.Model:
    inputs = keras.Input((3,), name="x")
    return keras.Model(inputs, keras.layers.Dense(2)(inputs))


def load_with_warmup(path: Path, warmup: bool = True) -> object:
    options = LoaderOptions(
        enable_model_warmup=warmup, num_request_iterations_for_warmup=1, metrics=Metrics()
    )
    return SavedModelLoader(ServableId("m", 1), path, options).load()


def test_a_module_holding_a_keras_3_model_fails_its_warmup_as_in_tf_serving(
    tmp_path: Path,
) -> None:
    class Module(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = keras_model()

        @tf.function(input_signature=[SPEC])
        def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"y": self.model(x)}

    module = Module()
    path = tmp_path / "1"
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    write_warmup(path)
    with pytest.raises(ServingError) as raised:
        load_with_warmup(path)
    assert raised.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "Could not find variable" in raised.value.message
    assert load_with_warmup(path, warmup=False) is not None  # as in TF Serving


def test_the_same_model_exported_with_export_archive_loads(tmp_path: Path) -> None:
    model = keras_model()
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", lambda x: {"y": model(x)}, input_signature=[SPEC])
    archive.write_out(str(tmp_path / "1"), verbose=False)
    write_warmup(tmp_path / "1")
    assert load_with_warmup(tmp_path / "1") is not None
