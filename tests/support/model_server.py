"""Start the model server (`covertype serve`) as a subprocess on free loopback ports.

    with start_model_server(model_base_path=models_dir / "covertype") as server:
        stub = PredictionServiceStub(grpc.insecure_channel(server.grpc_target))

Waits until `GetModelStatus` reports a version AVAILABLE (or, with
`wait_for_available=False`, until the gRPC port answers at all), then until the REST
port accepts connections: the server opens it just after the gRPC port, as TF Serving
does, so a client of both must not assume one from the other. Its JSON log
(stdout and stderr) is kept in a file, read by `log()`; a failed start raises with
the log in the message.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self

import grpc
from tensorflow_serving.apis import get_model_status_pb2, model_service_pb2_grpc

from covertype import defaults
from covertype.processes import stop_process
from tests.support.ports import free_port

START_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 15.0
_AVAILABLE = get_model_status_pb2.ModelVersionStatus.AVAILABLE


class ModelServerStartError(RuntimeError):
    """The model server exited or did not become ready in time; the message has its log."""


class RunningModelServer:
    """A model server subprocess; a context manager that stops it on exit."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        grpc_target: str,
        rest_url: str,
        log_path: Path,
    ) -> None:
        self.process = process
        self.grpc_target = grpc_target
        self.rest_url = rest_url
        self.log_path = log_path

    def log(self) -> str:
        """Everything the server has written so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after a grace period; return the exit code."""
        return stop_process(self.process, STOP_TIMEOUT_SECONDS)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def model_server_command(
    *,
    grpc_port: int,
    rest_port: int,
    model_base_path: Path | str | None = None,
    model_config_file: Path | str | None = None,
    model_name: str = defaults.MODEL_NAME,
    extra_args: Sequence[str] = (),
    backend: str = "local",
) -> list[str]:
    """The `covertype serve` command line start_model_server runs."""
    command = [
        sys.executable,
        "-m",
        "covertype.cli",
        "serve",
        f"--backend={backend}",
        f"--port={grpc_port}",
        f"--rest_api_port={rest_port}",
    ]
    if model_config_file is not None:
        command.append(f"--model_config_file={model_config_file}")
    if model_base_path is not None:
        command += [f"--model_name={model_name}", f"--model_base_path={model_base_path}"]
    return command + list(extra_args)


def start_model_server(
    *,
    model_base_path: Path | str | None = None,
    model_config_file: Path | str | None = None,
    model_name: str = defaults.MODEL_NAME,
    extra_args: Sequence[str] = (),
    grpc_port: int | None = None,
    rest_port: int | None = None,
    wait_for_available: bool = True,
    backend: str = "local",
    env: Mapping[str, str] | None = None,
    timeout: float = START_TIMEOUT_SECONDS,
) -> RunningModelServer:
    """Start `covertype serve` on free (or the given) ports and wait until it is ready.

    Ready means a version of `model_name` is AVAILABLE, or with
    `wait_for_available=False` that the gRPC API answers.
    """
    grpc_port = grpc_port or free_port()
    rest_port = rest_port or free_port()
    command = model_server_command(
        grpc_port=grpc_port,
        rest_port=rest_port,
        model_base_path=model_base_path,
        model_config_file=model_config_file,
        model_name=model_name,
        extra_args=extra_args,
        backend=backend,
    )
    with tempfile.NamedTemporaryFile(
        prefix="model-server-", suffix=".log", delete=False
    ) as log_file:
        process = subprocess.Popen(
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
        )
    server = RunningModelServer(
        process, f"127.0.0.1:{grpc_port}", f"http://127.0.0.1:{rest_port}", Path(log_file.name)
    )
    try:
        _wait_until_ready(server, model_name, rest_port, wait_for_available, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_ready(
    server: RunningModelServer,
    model_name: str,
    rest_port: int,
    wait_for_available: bool,
    timeout: float,
) -> None:
    deadline = time.monotonic() + timeout
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = model_name
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = model_service_pb2_grpc.ModelServiceStub(channel)
        while True:
            if server.process.poll() is not None:
                raise ModelServerStartError(
                    f"model server exited with {server.process.returncode}:\n{server.log()}"
                )
            if _grpc_ready(stub, request, wait_for_available) and _accepts_connections(rest_port):
                return
            if time.monotonic() > deadline:
                raise ModelServerStartError(
                    f"model server not ready after {timeout:g} s:\n{server.log()}"
                )
            time.sleep(0.1)


def _grpc_ready(
    stub: model_service_pb2_grpc.ModelServiceStub,
    request: get_model_status_pb2.GetModelStatusRequest,
    wait_for_available: bool,
) -> bool:
    try:
        response = stub.GetModelStatus(request, timeout=2)
    except grpc.RpcError as error:
        return not wait_for_available and error.code() != grpc.StatusCode.UNAVAILABLE
    return not wait_for_available or any(
        s.state == _AVAILABLE for s in response.model_version_status
    )


def _accepts_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True
