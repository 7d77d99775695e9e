"""Hostile calls to the model server's gRPC and REST APIs: clear 4xx / INVALID_ARGUMENT,
no INTERNAL, no 5xx, and memory that does not follow what a few bytes ask for.

Written against TF Serving's public API (the official stubs and the v1 REST API).
"""

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from covertype import defaults
from tests.support.model_server import RunningModelServer, start_model_server

MODEL = defaults.MODEL_NAME
# A client-side limit on what this test's channel accepts, not the server's.
_CLIENT = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]


@pytest.fixture(scope="module")
def base_path(tmp_path_factory: pytest.TempPathFactory, publish_tiny: Any) -> Path:
    models_dir = tmp_path_factory.mktemp("models")
    publish_tiny(models_dir)
    return models_dir / MODEL


@pytest.fixture(scope="module")
def server(base_path: Path) -> Iterator[RunningModelServer]:
    flags = ["--grpc_channel_arguments=grpc.max_receive_message_length=4194304"]
    with start_model_server(model_base_path=base_path, extra_args=flags) as running:
        yield running


def peak_rss_mib(server: RunningModelServer) -> float:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    (line,) = [line for line in status.splitlines() if line.startswith("VmHWM:")]
    return int(line.split()[1]) / 1024


def predict(server: RunningModelServer, shape: list[int], **values: Any) -> grpc.RpcError:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = MODEL
    request.model_spec.signature_name = defaults.MATRIX_SIGNATURE
    tensor = request.inputs[defaults.MATRIX_INPUT]
    tensor.dtype = types_pb2.DT_FLOAT
    for size in shape:
        tensor.tensor_shape.dim.add().size = size
    if "float_val" in values:
        tensor.float_val.extend(values["float_val"])
    if "tensor_content" in values:
        tensor.tensor_content = values["tensor_content"]
    with grpc.insecure_channel(server.grpc_target, options=_CLIENT) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            stub.Predict(request, timeout=60)
    return raised.value


@pytest.mark.parametrize(
    ("shape", "values", "code", "message"),
    [
        ([200_000, 54], {"float_val": [1.0]}, "INVALID_ARGUMENT", "filling a shape"),
        ([2**40, 54], {"float_val": [1.0]}, "INVALID_ARGUMENT", "filling a shape"),
        ([2**62, 2**62], {"float_val": [1.0]}, "INVALID_ARGUMENT", "elements, more than"),
        ([-1, 54], {"tensor_content": b"\0" * 4 * 54}, "INVALID_ARGUMENT", "negative dimension"),
        ([1, 54], {"tensor_content": b"\0" * 5_000_000}, "RESOURCE_EXHAUSTED", ""),
    ],
)
def test_predict_with_a_hostile_tensor_is_refused_clearly(
    server: RunningModelServer, shape: list[int], values: dict[str, Any], code: str, message: str
) -> None:
    before = peak_rss_mib(server)
    error = predict(server, shape, **values)
    assert error.code().name == code, error.details()
    assert message in (error.details() or "")
    assert "Traceback" not in (error.details() or "")
    # The server did not allocate what the shape asked for (the old server grew ~1 GB).
    assert peak_rss_mib(server) - before < 200


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"[" * 100_000, 400, "nested too deeply"),
        (b'{"instances": ' + b"[" * 990 + b"1" + b"]" * 990 + b"}", 400, ""),
        (b'{"instances": [' + b"1.0," * (10 * 2**20) + b"1.0]}", 413, "larger than"),
    ],
    ids=["deep JSON", "deep tensor", "over the body limit"],
)
def test_rest_refuses_hostile_bodies_with_4xx(
    server: RunningModelServer, body: bytes, status: int, message: str
) -> None:
    url = f"{server.rest_url}/v1/models/{MODEL}:predict"
    answer = httpx.post(url, content=body, timeout=60)
    assert answer.status_code == status, answer.text[:500]
    assert message in answer.json()["error"]


def test_a_version_retried_after_failing_to_load_says_why(base_path: Path, tmp_path: Path) -> None:
    models = tmp_path / MODEL
    shutil.copytree(base_path / "1", models / "1")
    flags = [
        "--max_num_load_retries=5",
        "--load_retry_interval_micros=60000000",
        "--file_system_poll_wait_seconds=1",
    ]
    with (
        start_model_server(model_base_path=models, extra_args=flags) as running,
        grpc.insecure_channel(running.grpc_target) as channel,
    ):
        broken = tmp_path / "broken"
        shutil.copytree(base_path / "1", broken)
        (broken / "saved_model.pb").write_bytes(b"not a SavedModel")
        broken.rename(models / "2")
        stub = model_service_pb2_grpc.ModelServiceStub(channel)
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = MODEL
        request.model_spec.version.value = 2
        deadline = time.monotonic() + 60
        while True:
            try:
                (status,) = stub.GetModelStatus(request, timeout=5).model_version_status
                if status.status.error_message:
                    break
            except grpc.RpcError:
                pass
            assert time.monotonic() < deadline, "no error reported while the load is retried"
            time.sleep(0.2)
    assert get_model_status_pb2.ModelVersionStatus.State.Name(status.state) == "LOADING"
    assert status.status.error_code != 0
