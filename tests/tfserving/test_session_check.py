"""Versions TF Serving cannot run fail to load here too (the TF1 Session replay of warmup)."""

from collections.abc import Callable
from pathlib import Path

import grpc
import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from covertype import defaults
from tfserving.core.servable_id import ServableId
from tfserving.errors import ServingError
from tfserving.monitoring import Metrics
from tfserving.servables.saved_model_loader import LoaderOptions, SavedModelLoader

SPEC = tf.TensorSpec([None, 3], tf.float32, name="x")


def keras_model() -> keras.Model:
    inputs = keras.Input((3,), name="x")
    return keras.Model(inputs, keras.layers.Dense(2)(inputs))


def write_warmup(path: Path) -> None:
    log = prediction_log_pb2.PredictionLog()
    request = log.predict_log.request
    request.model_spec.name = "m"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.ones((2, 3), np.float32)))
    (path / defaults.ASSETS_EXTRA).mkdir()
    with tf.io.TFRecordWriter(str(path / defaults.ASSETS_EXTRA / defaults.WARMUP_FILE)) as writer:
        writer.write(log.SerializeToString())


def export_module(path: Path) -> None:
    """A tf.Module holding a Keras 3 model, saved with tf.saved_model.save."""

    class Module(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = keras_model()

        @tf.function(input_signature=[SPEC])
        def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"y": self.model(x)}

    module = Module()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})


def export_archive(path: Path) -> None:
    """The same model written by keras.export.ExportArchive."""
    model = keras_model()
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", lambda x: {"y": model(x)}, input_signature=[SPEC])
    archive.write_out(str(path), verbose=False)


def load(path: Path, warmup: bool = True) -> object:
    options = LoaderOptions(
        enable_model_warmup=warmup, num_request_iterations_for_warmup=1, metrics=Metrics()
    )
    return SavedModelLoader(ServableId("m", 1), path, options).load()


def exported(export: Callable[[Path], None], tmp_path: Path) -> Path:
    path = tmp_path / "1"
    export(path)
    write_warmup(path)
    return path


def test_a_module_holding_a_keras_3_model_is_refused_like_tf_serving_does(tmp_path: Path) -> None:
    path = exported(export_module, tmp_path)
    with pytest.raises(ServingError) as raised:
        load(path)
    assert raised.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "Could not find variable" in raised.value.message
    assert load(path, warmup=False) is not None  # as in TF Serving: only warmup notices


def test_the_same_model_exported_with_export_archive_loads(tmp_path: Path) -> None:
    assert load(exported(export_archive, tmp_path)) is not None
