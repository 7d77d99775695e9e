"""The local server's own behaviour, beyond what tests/contract checks on any TF Serving.

Exact codes where TF Serving is vaguer (UNAVAILABLE before a first version), TF
Serving's messages for Classify on a predict signature, incomplete folders loaded
once complete, messages naming the input, Classify/Regress on a model that has such
signatures, startup errors, config file polling, warmup failures, the version
header, logs and metrics.
"""

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    inference_pb2,
    regression_pb2,
)

from covertype import defaults, schema
from tests.contract.serving_api import ServingClient, model_config, publish, wait_until
from tests.support.model_server import RunningModelServer, start_model_server
from tests.support.ports import free_port

MODEL = defaults.MODEL_NAME
FAST = ("--file_system_poll_wait_seconds=1", "--max_num_load_retries=0")
MONITORING = Path(__file__).resolve().parents[2] / "tfserving" / "monitoring.config"


@pytest.fixture(scope="module")
def saved_model(tiny_candidate: Any) -> Path:
    return Path(tiny_candidate.path)


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    values = np.zeros((2, len(schema.FEATURE_COLUMNS)), np.float32)
    values[:, 0] = [2596, 3000]  # Elevation
    values[:, 10] = 1  # Wilderness_Area1
    values[:, 14] = 1  # Soil_Type1
    return values


@pytest.fixture(scope="module")
def server(
    saved_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningModelServer]:
    base = tmp_path_factory.mktemp("local") / MODEL
    publish(saved_model, base, 1)
    with start_model_server(
        model_base_path=base, extra_args=[*FAST, f"--monitoring_config_file={MONITORING}"]
    ) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: RunningModelServer) -> Iterator[ServingClient]:
    serving = ServingClient(server.grpc_target, server.rest_url, MODEL)
    yield serving
    serving.close()


def rpc_error(call: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value


def test_messages_name_the_input_and_the_rule(client: ServingClient, rows: np.ndarray) -> None:
    wrong_dtype = client.predict_request(rows)
    wrong_dtype.inputs["Elevation"].CopyFrom(tf.make_tensor_proto(np.float64([1, 2])))
    error = rpc_error(lambda: client.prediction.Predict(wrong_dtype))
    assert error.details() == "Expects arg 'Elevation' to be float but double is provided"
    # The graph decides shapes, as in TF Serving; its refusal names the input that differs.
    error = rpc_error(lambda: client.predict(rows[:, :53], signature=defaults.MATRIX_SIGNATURE))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().endswith(
        "(input 'features' has shape [2, 53]; signature 'predict_matrix' declares [-1, 54] "
        "(-1: any size))"
    )


def test_classify_on_a_predict_signature_is_refused_as_tf_serving_does(
    client: ServingClient,
) -> None:
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = MODEL
    request.input.example_list.examples.add()
    error = rpc_error(lambda: client.prediction.Classify(request))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "Expected one input Tensor.",
    )
    response = client.http.post(f"/v1/models/{MODEL}:regress", json={"examples": [{"x": 1.0}]})
    assert (response.status_code, response.json()) == (400, {"error": "Expected one input Tensor."})


def test_rest_predictions_name_the_version(client: ServingClient, rows: np.ndarray) -> None:
    response = client.http.post(
        f"/v1/models/{MODEL}:predict",
        json={"signature_name": defaults.MATRIX_SIGNATURE, "instances": rows.tolist()},
    )
    assert response.status_code == 200
    assert response.headers["x-model-version"] == "1"


def test_metrics_add_the_version(client: ServingClient, rows: np.ndarray) -> None:
    client.predict(rows)
    page = client.metrics()
    assert (
        'covertype_model_server_version_requests_total{API="Predict",entrypoint="GRPC",'
        'model_name="covertype",version="1"}'
    ) in page
    assert ":tensorflow:serving:model_warmup_latency_count" in page


def test_logs_are_json_lines_with_model_version_and_duration(server: RunningModelServer) -> None:
    events = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    loaded = [e for e in events if e["event"] == "servable_loaded"]
    assert loaded and loaded[0]["model"] == MODEL and loaded[0]["version"] == 1
    assert loaded[0]["duration_ms"] > 0
    assert any(e["event"] == "server_started" for e in events)


def test_no_version_yet_is_unavailable_until_one_is_published(
    saved_model: Path, tmp_path: Path, rows: np.ndarray
) -> None:
    base = tmp_path / MODEL
    base.mkdir()
    with start_model_server(
        model_base_path=base, extra_args=FAST, wait_for_available=False
    ) as server:
        client = ServingClient(server.grpc_target, server.rest_url, MODEL)
        error = rpc_error(lambda: client.predict(rows))
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert (
            client.http.post(f"/v1/models/{MODEL}:predict", json={"instances": [1]}).status_code
            == 503
        )
        assert client.statuses() == {}
        publish(saved_model, base, 1)
        wait_until(lambda: client.available() == [1], 30, "version 1 AVAILABLE")
        assert client.predict(rows).model_spec.version.value == 1
        client.close()


def test_an_incomplete_folder_is_loaded_once_complete(
    saved_model: Path, tmp_path: Path, rows: np.ndarray
) -> None:
    base = tmp_path / MODEL
    publish(saved_model, base, 1)
    with start_model_server(model_base_path=base, extra_args=FAST) as server:
        client = ServingClient(server.grpc_target, server.rest_url, MODEL)
        incomplete = base / "2"
        shutil.copytree(saved_model, incomplete, ignore=shutil.ignore_patterns("variables"))
        wait_until(
            lambda: "version_incomplete" in server.log(), 10, "the incomplete folder noticed"
        )
        assert set(client.statuses()) == {1}
        shutil.copytree(saved_model / "variables", incomplete / "variables")
        wait_until(lambda: client.available() == [2], 30, "version 2 AVAILABLE")
        assert client.predict(rows).model_spec.version.value == 2
        client.close()


def test_bad_warmup_data_fails_the_load_unless_warmup_is_off(
    saved_model: Path, tmp_path: Path
) -> None:
    base = tmp_path / MODEL
    publish(saved_model, base, 1)
    with start_model_server(model_base_path=base, extra_args=FAST) as server:
        client = ServingClient(server.grpc_target, server.rest_url, MODEL)
        staging = base / f".staging-{uuid.uuid4().hex}"
        shutil.copytree(saved_model, staging)
        (staging / defaults.ASSETS_EXTRA / defaults.WARMUP_FILE).write_bytes(b"\x01not a tfrecord")
        os.rename(staging, base / "2")
        status = wait_until(
            lambda: (s := client.statuses().get(2)) is not None and s.state == "END" and s,
            30,
            "version 2 END",
        )
        assert status.error_code == grpc.StatusCode.DATA_LOSS.value[0]
        assert status.error_message == (
            "corrupted record at 0 (Is this even a TFRecord file?). Please verify your warmup "
            "data is in TFRecord format."
        )
        assert client.available() == [1]
        client.close()
    shutil.rmtree(base / "1")
    with start_model_server(
        model_base_path=base, extra_args=[*FAST, "--enable_model_warmup=false"]
    ) as server:
        assert ServingClient(server.grpc_target, None, MODEL).available() == [2]


def test_the_config_file_is_re_read(saved_model: Path, tmp_path: Path) -> None:
    base = tmp_path / MODEL
    for version in (1, 2):
        publish(saved_model, base, version)
    config_file = tmp_path / "models.config"
    config_file.write_text(str(model_config(MODEL, str(base))))
    with start_model_server(
        model_config_file=config_file,
        extra_args=[*FAST, "--model_config_file_poll_wait_seconds=1"],
    ) as server:
        client = ServingClient(server.grpc_target, None, MODEL)
        assert client.available() == [2]
        config_file.write_text(str(model_config(MODEL, str(base), "specific { versions: 1 }")))
        wait_until(lambda: client.available() == [1], 30, "version 1 alone AVAILABLE")
        client.close()
    assert '"event": "config_reloaded"' in server.log()


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    command = ["serve", "--backend=local", f"--port={free_port()}", *args]
    return subprocess.run(
        [sys.executable, "-m", "covertype.cli", *command],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_startup_errors_exit_non_zero_with_tf_serving_messages(
    saved_model: Path, tmp_path: Path
) -> None:
    relative = serve("--model_name=covertype", "--model_base_path=models/covertype")
    assert relative.returncode == 1
    assert "to have an absolute path" in relative.stderr

    base = tmp_path / MODEL
    publish(saved_model, base, 1)
    config_file = tmp_path / "models.config"
    config_file.write_text(str(model_config(MODEL, str(base), "", {"stable": 1})))
    labelled = serve(f"--model_config_file={config_file}")
    assert labelled.returncode == 1
    assert "which is not currently available for inference" in labelled.stderr


@pytest.fixture(scope="module")
def examples_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TF1-style SavedModel with classify and regress signatures on tf.Examples."""
    base = tmp_path_factory.mktemp("examples") / "examples"
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as session:
        serialized = tf.compat.v1.placeholder(tf.string, [None], name="tf_example")
        features = tf.io.parse_example(serialized, {"x": tf.io.FixedLenFeature([1], tf.float32)})
        weight = tf.Variable(2.0, name="weight")
        value = features["x"] * weight + 1.0
        scores = tf.concat([tf.sigmoid(value), 1 - tf.sigmoid(value)], axis=1)
        classes = tf.tile(tf.constant([["yes", "no"]]), [tf.shape(value)[0], 1])
        session.run(tf.compat.v1.global_variables_initializer())
        builder = tf.compat.v1.saved_model.Builder(str(base / "1"))
        classify = tf.compat.v1.saved_model.classification_signature_def(
            serialized, classes, scores
        )
        regress = tf.compat.v1.saved_model.regression_signature_def(serialized, value)
        builder.add_meta_graph_and_variables(
            session,
            [tf.compat.v1.saved_model.SERVING],
            signature_def_map={"serving_default": classify, "regress": regress},
        )
        builder.save()
    return base


def test_classify_regress_and_multi_inference_on_example_signatures(examples_model: Path) -> None:
    with start_model_server(model_base_path=examples_model, model_name="examples") as server:
        client = ServingClient(server.grpc_target, server.rest_url, "examples")
        classify = classification_pb2.ClassificationRequest()
        classify.model_spec.name = "examples"
        for x in (0.0, 1.0):
            classify.input.example_list.examples.add().features.feature[
                "x"
            ].float_list.value.append(x)
        result = client.prediction.Classify(classify).result
        assert [[c.label for c in r.classes] for r in result.classifications] == [["yes", "no"]] * 2
        assert result.classifications[1].classes[0].score == pytest.approx(1 / (1 + np.exp(-3)))

        regress = regression_pb2.RegressionRequest()
        regress.model_spec.name = "examples"
        regress.model_spec.signature_name = "regress"
        regress.input.CopyFrom(classify.input)
        assert [r.value for r in client.prediction.Regress(regress).result.regressions] == [1, 3]

        multi = inference_pb2.MultiInferenceRequest()
        multi.input.CopyFrom(classify.input)
        for signature, method in (("serving_default", "classify"), ("regress", "regress")):
            task = multi.tasks.add()
            task.model_spec.name = "examples"
            task.model_spec.signature_name = signature
            task.method_name = f"tensorflow/serving/{method}"
        results = client.prediction.MultiInference(multi).results
        assert [r.regression_result.regressions[1].value for r in results[1:]] == [3]

        rest: httpx.Client = client.http
        body = {"signature_name": "regress", "examples": [{"x": 0.5}]}
        assert rest.post("/v1/models/examples:regress", json=body).json() == {"results": [2.0]}
        classified = rest.post("/v1/models/examples:classify", json={"examples": [{"x": 0.0}]})
        assert [label for label, _ in classified.json()["results"][0]] == ["yes", "no"]
        client.close()
