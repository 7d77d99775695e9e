"""How outputs travel and how the server can be reached: TF Serving's defaults and options.

By default Predict fills the typed fields (`int64_val`, `float_val`), which is what
`result.outputs["y"].float_val` reads; `--enable_serialization_as_tensor_content`
switches to `tensor_content`. The standard gRPC health service and a UNIX socket are
flags of tensorflow_model_server too.
"""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
import tensorflow as tf
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tensorflow_serving.apis import prediction_service_pb2_grpc

from covertype import defaults, schema
from tests.contract.conftest import ServerFactory, Target

COVER_TYPE = defaults.OUTPUT_COVER_TYPE
PROBABILITIES = defaults.OUTPUT_PROBABILITIES


def test_predict_fills_the_typed_fields_by_default(static_server: Target, rows: np.ndarray) -> None:
    response = static_server.client.predict(rows)
    cover_type, probabilities = response.outputs[COVER_TYPE], response.outputs[PROBABILITIES]
    assert not cover_type.tensor_content and not probabilities.tensor_content
    assert len(cover_type.int64_val) == len(rows)
    assert set(cover_type.int64_val) <= set(range(1, schema.NUM_CLASSES + 1))
    assert len(probabilities.float_val) == len(rows) * schema.NUM_CLASSES
    assert [d.size for d in probabilities.tensor_shape.dim] == [len(rows), schema.NUM_CLASSES]
    assert np.allclose(np.reshape(probabilities.float_val, (len(rows), -1)).sum(axis=1), 1.0)


@pytest.fixture
def socket_path() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="uds-"))  # short: a socket path has < 108 bytes
    yield folder / "grpc.sock"
    shutil.rmtree(folder)


def test_tensor_content_health_service_and_unix_socket_options(
    fresh_server: ServerFactory, rows: np.ndarray, socket_path: Path
) -> None:
    target = fresh_server(
        extra_args=[
            "--enable_serialization_as_tensor_content",
            "--enable_grpc_healthcheck_service",
            f"--grpc_socket_path={socket_path}",
        ]
    )
    response = target.client.predict(rows)
    probabilities = response.outputs[PROBABILITIES]
    assert probabilities.tensor_content and not probabilities.float_val
    assert tf.make_ndarray(probabilities).shape == (len(rows), schema.NUM_CLASSES)

    assert target.process is not None
    with grpc.insecure_channel(target.process.grpc_target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "ModelService", "PredictionService"):
            answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=30)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING

    with grpc.insecure_channel(f"unix:{socket_path}") as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        by_socket = stub.Predict(target.client.predict_request(rows), timeout=30)
    assert (
        by_socket.outputs[COVER_TYPE].tensor_content == response.outputs[COVER_TYPE].tensor_content
    )
