"""Talking to the model server: version states (`GetModelStatus`) and config reloads.

States go through the project's wire-compatible slim messages on TF Serving's method
path, so watching a server (all that registry mode needs) imports no TensorFlow.
Config reloads take the official `tensorflow_serving` config message (folder mode).
It works the same against TensorFlow Serving and the project's compatible server.
"""

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc

from protos.slim import get_model_status_pb2

if TYPE_CHECKING:
    from tensorflow_serving.config import model_server_config_pb2

GET_MODEL_STATUS_METHOD = "/tensorflow.serving.ModelService/GetModelStatus"

AVAILABLE = "AVAILABLE"
END = "END"
POLL_SECONDS = 0.2


class ServerError(Exception):
    """The model server cannot be reached or refused a request."""


class LoadFailed(ServerError):
    """The model server reports that a version failed to load."""

    def __init__(self, version: int, message: str) -> None:
        super().__init__(f"version {version} failed to load: {message}")
        self.version = version


class Timeout(ServerError):
    """A wait did not finish before its deadline."""


@dataclass(frozen=True)
class VersionStatus:
    """One version as `GetModelStatus` reports it."""

    state: str
    error: str = ""

    def __str__(self) -> str:
        return f"{self.state} ({self.error})" if self.error else self.state


States = dict[int, VersionStatus]


class ModelServer:
    """A client for one model on one model server (`host:port` of its gRPC API)."""

    def __init__(self, target: str, model_name: str, *, rpc_timeout: float = 5.0) -> None:
        self.target = target
        self.model_name = model_name
        self.rpc_timeout = rpc_timeout
        self._channel = grpc.insecure_channel(target)
        self._get_model_status = self._channel.unary_unary(
            GET_MODEL_STATUS_METHOD,
            request_serializer=get_model_status_pb2.GetModelStatusRequest.SerializeToString,
            response_deserializer=get_model_status_pb2.GetModelStatusResponse.FromString,
        )

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def __enter__(self) -> "ModelServer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def states(self) -> States:
        """Every version the server knows, with its state; {} when it knows none."""
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = self.model_name
        try:
            response = self._get_model_status(request, timeout=self.rpc_timeout)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return {}
            raise ServerError(
                f"model server {self.target}: GetModelStatus failed: "
                f"{error.code().name} {error.details()}"
            ) from error
        names = get_model_status_pb2.ModelVersionStatus.State
        return {
            status.version: VersionStatus(
                state=names.Name(status.state),
                error=status.status.error_message if status.status.error_code else "",
            )
            for status in response.model_version_status
        }

    def reload_config(self, config: "model_server_config_pb2.ModelServerConfig") -> None:
        """Replace the server's config (`HandleReloadConfigRequest`); raise if refused."""
        from tensorflow_serving.apis import model_management_pb2, model_service_pb2_grpc

        request = model_management_pb2.ReloadConfigRequest(config=config)
        stub = model_service_pb2_grpc.ModelServiceStub(self._channel)
        try:
            response = stub.HandleReloadConfigRequest(request, timeout=self.rpc_timeout)
        except grpc.RpcError as error:
            raise ServerError(
                f"model server {self.target}: config reload refused: "
                f"{error.code().name} {error.details()}"
            ) from error
        if response.status.error_code:
            raise ServerError(
                f"model server {self.target}: config reload refused: "
                f"{response.status.error_message}"
            )

    def wait_available(
        self, versions: Iterable[int], timeout: float, *, baseline: States | None = None
    ) -> States:
        """Wait until every one of `versions` is AVAILABLE.

        Raises `LoadFailed` as soon as one reports END with an error, unless that
        exact status was already in `baseline` (taken before the version was
        published: a stale report about an earlier folder with the same number).
        """
        wanted = set(versions)
        stale = baseline or {}

        def done(states: States) -> bool:
            for version in wanted:
                status = states.get(version)
                if status and status.state == END and status.error and status != stale.get(version):
                    raise LoadFailed(version, status.error)
            return all(states.get(v, VersionStatus("")).state == AVAILABLE for v in wanted)

        return self._wait(done, timeout, f"versions {sorted(wanted)} AVAILABLE")

    def wait_unloaded(self, versions: Iterable[int], timeout: float) -> States:
        """Wait until none of `versions` is loaded (reported END or not at all)."""
        gone = set(versions)
        return self._wait(
            lambda states: all(states.get(v, VersionStatus(END)).state == END for v in gone),
            timeout,
            f"versions {sorted(gone)} unloaded",
        )

    def _wait(self, done: Callable[[States], bool], timeout: float, what: str) -> States:
        deadline = time.monotonic() + timeout
        while True:
            states = self.states()
            if done(states):
                return states
            if time.monotonic() >= deadline:
                shown = ", ".join(f"{v}: {s}" for v, s in sorted(states.items())) or "none"
                raise Timeout(f"waited {timeout:g} s for {what}; server reports {shown}")
            time.sleep(POLL_SECONDS)


def describe(states: States) -> str:
    """`1 AVAILABLE, 2 END (error)` for messages."""
    return ", ".join(f"{v} {s}" for v, s in sorted(states.items())) or "no versions"
