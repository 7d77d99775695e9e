"""SIGTERM drains the local server: NOT_SERVING first, then the ports close, then the
requests already running finish, and the process exits 0.

The gated test model holds each request until the test creates its release file, so
"running when SIGTERM arrives" is a fact the test arranges, not a race it hopes for.
"""

import queue
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import httpx
import numpy as np
import tensorflow as tf
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from tests.support.model_server import start_model_server
from tests.tfserving.tf1_models import export_gated

WAIT_SECONDS = 60.0


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def refuses_connections(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except (ConnectionRefusedError, ConnectionResetError):
        # A reset answers a connect that raced the listener's close.
        return True
    return False


def gated_request(started: Path, release: Path) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "gated"
    request.inputs["started"].CopyFrom(tf.make_tensor_proto(str(started)))
    request.inputs["release"].CopyFrom(tf.make_tensor_proto(str(release)))
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.float32([1.0, 2.0])))
    return request


def in_background(call: Callable[[], object]) -> "queue.Queue[object]":
    results: queue.Queue[object] = queue.Queue()

    def run() -> None:
        try:
            results.put(call())
        except Exception as error:  # handed to the test thread, which asserts on it
            results.put(error)

    threading.Thread(target=run, daemon=True).start()
    return results


def follow(watch: grpc.Call, statuses: "queue.Queue[int]") -> None:
    """Put each status the health Watch stream sends; the drain ends the stream at last."""
    try:
        for response in watch:  # type: ignore[attr-defined]
            statuses.put(response.status)
    except grpc.RpcError:
        pass


def test_sigterm_finishes_running_requests_after_closing_the_ports(tmp_path: Path) -> None:
    export_gated(tmp_path / "gated" / "1")
    server = start_model_server(
        model_base_path=tmp_path / "gated",
        model_name="gated",
        extra_args=["--enable_grpc_healthcheck_service"],
    )
    rest_address = server.rest_url.removeprefix("http://")
    try:
        channel = grpc.insecure_channel(server.grpc_target)
        statuses: queue.Queue[int] = queue.Queue()
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
        threading.Thread(target=follow, args=(watch, statuses), daemon=True).start()
        assert statuses.get(timeout=WAIT_SECONDS) == health_pb2.HealthCheckResponse.SERVING

        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        request = gated_request(tmp_path / "grpc-started", tmp_path / "grpc-release")
        grpc_result = in_background(lambda: stub.Predict(request, timeout=WAIT_SECONDS))
        body = {
            "inputs": {
                "started": str(tmp_path / "rest-started"),
                "release": str(tmp_path / "rest-release"),
                "x": [3.0],
            }
        }
        rest_result = in_background(
            lambda: httpx.post(
                f"{server.rest_url}/v1/models/gated:predict", json=body, timeout=WAIT_SECONDS
            )
        )
        wait_for((tmp_path / "grpc-started").exists, "the gRPC request to run")
        wait_for((tmp_path / "rest-started").exists, "the REST request to run")

        server.process.send_signal(signal.SIGTERM)

        not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
        assert statuses.get(timeout=WAIT_SECONDS) == not_serving
        wait_for(lambda: refuses_connections(server.grpc_target), "the gRPC port to close")
        wait_for(lambda: refuses_connections(rest_address), "the REST port to close")
        assert server.process.poll() is None  # still finishing the two requests

        (tmp_path / "grpc-release").touch()
        (tmp_path / "rest-release").touch()
        predicted = grpc_result.get(timeout=WAIT_SECONDS)
        assert isinstance(predicted, predict_pb2.PredictResponse), predicted
        assert list(predicted.outputs["y"].float_val) == [3.0, 5.0]
        answered = rest_result.get(timeout=WAIT_SECONDS)
        assert isinstance(answered, httpx.Response), answered
        assert (answered.status_code, answered.json()) == (200, {"outputs": [7.0]})

        assert server.process.wait(timeout=WAIT_SECONDS) == 0
        channel.close()
    finally:
        server.stop()
    log = server.log()
    assert log.index('"event": "server_draining"') < log.index('"event": "server_drained"')
    assert '"finished": true' in log
