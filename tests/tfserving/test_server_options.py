"""The local server honours TF Serving's serving flags: a UNIX socket, the gRPC health
service, tensor_content outputs, gRPC channel arguments, the REST timeout, CORS, the
signature method-name check and per-model batching parameters. One server runs with all
of them, over two TF1 models (only half_plus_two has a batching_params.pbtxt)."""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest
import tensorflow as tf
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from tests.contract.serving_api import model_config
from tests.support.model_server import RunningModelServer, start_model_server
from tests.tfserving.tf1_models import export_gated, export_half_plus_two

REST_TIMEOUT_MS = 200
MONITORING = Path(__file__).resolve().parents[2] / "tfserving" / "monitoring.config"
MAX_REQUEST_BYTES = 65536


@pytest.fixture(scope="module")
def socket_path() -> Iterator[Path]:
    # A short path: a UNIX socket's path has at most 107 bytes.
    folder = Path(tempfile.mkdtemp(prefix="uds-"))
    yield folder / "grpc.sock"
    shutil.rmtree(folder)


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, socket_path: Path
) -> Iterator[RunningModelServer]:
    base = tmp_path_factory.mktemp("models")
    version = export_half_plus_two(base / "half_plus_two" / "1")
    (version / "batching_params.pbtxt").write_text("max_batch_size { value: 8 }\n")
    export_gated(base / "gated" / "1")
    config = model_config("half_plus_two", str(base / "half_plus_two"))
    config.model_config_list.config.append(
        model_config("gated", str(base / "gated")).model_config_list.config[0]
    )
    config_file = base / "models.config"
    config_file.write_text(str(config))
    flags = [
        f"--grpc_socket_path={socket_path}",
        "--enable_grpc_healthcheck_service",
        "--enable_serialization_as_tensor_content",
        f"--grpc_channel_arguments=grpc.max_receive_message_length={MAX_REQUEST_BYTES}",
        f"--rest_api_timeout_in_ms={REST_TIMEOUT_MS}",
        "--rest_api_enable_cors_support=true",
        "--enable_signature_method_name_check",
        "--num_load_threads=2",
        "--enable_batching",
        "--enable_per_model_batching_parameters",
        f"--monitoring_config_file={MONITORING}",
    ]
    with start_model_server(
        model_config_file=config_file, model_name="half_plus_two", extra_args=flags
    ) as running:
        yield running


def half_plus_two_request(values: np.ndarray) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "half_plus_two"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(values))
    return request


def test_grpc_answers_on_the_unix_socket_in_tensor_content(
    server: RunningModelServer, socket_path: Path
) -> None:
    with grpc.insecure_channel(f"unix:{socket_path}") as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(half_plus_two_request(np.float32([[2.0], [4.0]])), timeout=30)
    y = response.outputs["y"]
    assert y.dtype == types_pb2.DT_FLOAT
    assert not y.float_val
    assert tf.make_ndarray(y).tolist() == [[3.0], [4.0]]


def test_the_health_service_reports_tf_servings_service_names(server: RunningModelServer) -> None:
    with grpc.insecure_channel(server.grpc_target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        serving = health_pb2.HealthCheckResponse.SERVING
        for service in ("", "ModelService", "PredictionService"):
            request = health_pb2.HealthCheckRequest(service=service)
            assert health.Check(request, timeout=30).status == serving
        unknown = health_pb2.HealthCheckRequest(service="tensorflow.serving.PredictionService")
        with pytest.raises(grpc.RpcError) as raised:
            health.Check(unknown, timeout=30)
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_channel_arguments_reach_the_grpc_server(server: RunningModelServer) -> None:
    too_big = half_plus_two_request(np.zeros((MAX_REQUEST_BYTES // 4 + 1, 1), np.float32))
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            stub.Predict(too_big, timeout=30)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_rest_runs_end_at_rest_api_timeout_in_ms(
    server: RunningModelServer, tmp_path: Path
) -> None:
    started, never = str(tmp_path / "started"), str(tmp_path / "never")
    body = {"inputs": {"started": started, "release": never, "x": [1.0]}}
    with httpx.Client(base_url=server.rest_url, timeout=60) as rest:
        response = rest.post("/v1/models/gated:predict", json=body)
    # TF's Session message: the gated model (no batching_params.pbtxt) runs unbatched.
    assert (response.status_code, response.json()) == (
        504,
        {"error": "Timed out waiting for notification"},
    )
    assert (tmp_path / "started").exists()  # the run had started: the timeout ended it


def batched_tasks(rest: httpx.Client) -> float:
    page = rest.get("/monitoring/prometheus/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(page)}
    family = families[":tensorflow:serving:batching_session:input_batch_size"]
    return sum(s.value for s in family.samples if s.name.endswith("_count"))


def test_a_version_with_batching_params_pbtxt_is_batched(server: RunningModelServer) -> None:
    with httpx.Client(base_url=server.rest_url, timeout=30) as rest:
        before = batched_tasks(rest)
        answer = rest.post("/v1/models/half_plus_two:predict", json={"instances": [[2.0]]})
        assert answer.json() == {"predictions": [[3.0]]}
        assert batched_tasks(rest) == before + 1


def test_cors_preflight_and_headers(server: RunningModelServer) -> None:
    with httpx.Client(base_url=server.rest_url, timeout=30) as rest:
        preflight = rest.options(
            "/v1/models/half_plus_two:predict", headers={"Origin": "https://example.org"}
        )
        no_origin = rest.options("/v1/models/half_plus_two:predict")
        status = rest.get("/v1/models/half_plus_two")
    assert preflight.status_code == 200
    assert no_origin.status_code == 400
    for response in (preflight, no_origin, status):
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.headers["access-control-allow-methods"] == "POST, GET"
        assert response.headers["access-control-allow-headers"] == "Content-Type"


def test_the_method_name_check_refuses_a_predict_signature(server: RunningModelServer) -> None:
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "half_plus_two"
    request.model_spec.signature_name = "classify_x_to_y"
    request.input.example_list.examples.add().features.feature["x"].float_list.value.append(2.0)
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            stub.Classify(request, timeout=30)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details().startswith(
        "Expected classification signature method_name to be tensorflow/serving/classify."
    )


def test_flags_that_only_tune_tf_servings_runtime_are_logged_as_ignored(
    server: RunningModelServer,
) -> None:
    assert '"event": "flags_ignored", "flags": {"num_load_threads":' in server.log()
