"""`--ssl_config_file`: the gRPC API over TLS, with TF Serving's SSLConfig text format.

The certificate is made for the test with the openssl command line tool.
"""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from tests.support.model_server import (
    START_TIMEOUT_SECONDS,
    RunningModelServer,
    model_server_command,
)
from tests.support.ports import free_port
from tests.tfserving.tf1_models import export_half_plus_two


def self_signed(folder: Path) -> tuple[str, str]:
    """A private key and a certificate for localhost (PEM)."""
    key, cert = folder / "server.key", folder / "server.crt"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return key.read_text(), cert.read_text()


def tls_channel(server: RunningModelServer, cert: str) -> grpc.Channel:
    port = server.grpc_target.rsplit(":", 1)[1]
    credentials = grpc.ssl_channel_credentials(root_certificates=cert.encode())
    return grpc.secure_channel(f"localhost:{port}", credentials)


@pytest.fixture(scope="module")
def tls_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningModelServer, str]]:
    folder = tmp_path_factory.mktemp("tls")
    key, cert = self_signed(folder)
    config = folder / "ssl.config"
    config.write_text(f"server_key: {key!r}\nserver_cert: {cert!r}\nclient_verify: false\n")
    export_half_plus_two(folder / "half_plus_two" / "1")
    grpc_port = free_port()
    command = model_server_command(
        grpc_port=grpc_port,
        rest_port=free_port(),
        model_base_path=folder / "half_plus_two",
        model_name="half_plus_two",
        extra_args=[f"--ssl_config_file={config}"],
    )
    log = folder / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    with RunningModelServer(process, f"127.0.0.1:{grpc_port}", "", log) as server:
        with tls_channel(server, cert) as channel:
            # The server opens its port once the model is loaded.
            grpc.channel_ready_future(channel).result(timeout=START_TIMEOUT_SECONDS)
        yield server, cert


def request() -> predict_pb2.PredictRequest:
    predict = predict_pb2.PredictRequest()
    predict.model_spec.name = "half_plus_two"
    predict.inputs["x"].CopyFrom(tf.make_tensor_proto(np.float32([[2.0]])))
    return predict


def test_a_tls_client_is_answered(tls_server: tuple[RunningModelServer, str]) -> None:
    server, cert = tls_server
    with tls_channel(server, cert) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(request(), timeout=60)
    assert list(response.outputs["y"].float_val) == [3.0]


def test_a_plaintext_client_is_not(tls_server: tuple[RunningModelServer, str]) -> None:
    server, _ = tls_server
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            stub.Predict(request(), timeout=10)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
