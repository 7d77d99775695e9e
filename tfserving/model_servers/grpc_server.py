"""The gRPC server: its listening addresses, credentials, channel arguments and services.

What TF Serving's Server::BuildAndStart does with grpc::ServerBuilder: a TCP port
(`--port`, unless 0) and/or a UNIX socket (`--grpc_socket_path`), both with the
same credentials (insecure, `--ssl_config_file` or `--use_alts_credentials`),
messages of any size, `--grpc_channel_arguments` over those settings (an argument
given there wins over the server's own value, and its last occurrence wins),
`--grpc_max_threads` handler threads,
and, with `--enable_grpc_healthcheck_service`, the standard grpc.health.v1 service
reporting "" (the server), "ModelService" and "PredictionService" as SERVING.

Unary calls are counted in an `InFlightRequests` (a server interceptor), so a drain
knows when the last one has finished.
"""

import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from tfserving.config_files import read_ssl_config
from tfserving.model_servers.in_flight import InFlightRequests

# TF Serving's limit (server.cc: SetMaxMessageSize(INT32_MAX)); `--grpc_channel_arguments=
# grpc.max_receive_message_length=N` sets another.
MAX_MESSAGE_BYTES = 2**31 - 1
_MESSAGE_SIZE_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
)
# The service names TF Serving's server.cc marks SERVING (besides "", the whole server).
HEALTH_SERVICES = ("ModelService", "PredictionService")
_INT32 = re.compile(r"\s*[+-]?\d+\s*")

ChannelArgument = tuple[str, int | str]
AddServicers = Callable[[grpc.Server], None]


class GrpcServerError(Exception):
    """The gRPC server could not be configured or could not bind."""


def parse_channel_arguments(text: str) -> list[ChannelArgument]:
    """`--grpc_channel_arguments`: comma-separated key=value; an int32 value is an int.

    TF Serving passes each value as an integer when it parses as an int32, else as
    a string; gRPC ignores arguments it does not know.
    """
    arguments: list[ChannelArgument] = []
    for item in text.split(",") if text else []:
        parts = item.split("=")
        if len(parts) < 2 or not parts[0]:
            raise GrpcServerError(
                f"--grpc_channel_arguments: {item!r} is not key=value (in {text!r})"
            )
        key, value = parts[0], parts[1]
        if _INT32.fullmatch(value) and -(2**31) <= int(value) < 2**31:
            arguments.append((key, int(value)))
        else:
            arguments.append((key, value))
    return arguments


def _last_occurrences(arguments: Sequence[ChannelArgument]) -> list[ChannelArgument]:
    return list({key: (key, value) for key, value in arguments}.values())


def server_credentials(
    use_alts_credentials: bool, ssl_config_file: str
) -> grpc.ServerCredentials | None:
    """ALTS, TLS from an SSLConfig, or None for insecure (TF Serving's BuildServerCredentials)."""
    if use_alts_credentials and ssl_config_file:
        raise GrpcServerError(
            "Either use_alts_credentials must be false or ssl_config_file must be empty."
        )
    if use_alts_credentials:
        return grpc.alts_server_credentials()
    if not ssl_config_file:
        return None
    config = read_ssl_config(ssl_config_file)
    if config.client_verify and not config.custom_ca:
        raise GrpcServerError(
            f"{ssl_config_file}: client_verify needs custom_ca, the authority that signs "
            "client certificates"
        )
    return grpc.ssl_server_credentials(
        [(config.server_key.encode(), config.server_cert.encode())],
        root_certificates=config.custom_ca.encode() or None,
        require_client_auth=config.client_verify,
    )


@dataclass(frozen=True)
class GrpcServerOptions:
    """Where and how the gRPC server listens."""

    bind_address: str
    port: int
    socket_path: str
    max_threads: int
    channel_arguments: Sequence[ChannelArgument] = ()
    credentials: grpc.ServerCredentials | None = None
    enable_health_service: bool = False


class _CountUnaryCalls(grpc.ServerInterceptor):
    """Counts every unary-unary call in `InFlightRequests` until the call ends.

    The count ends with the call (gRPC's termination callback), not with the handler:
    the answer must be sent before a drain may cancel what is left.
    """

    def __init__(self, in_flight: InFlightRequests) -> None:
        self._in_flight = in_flight

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        behavior = handler.unary_unary
        in_flight = self._in_flight

        def tracked(request: Any, context: grpc.ServicerContext) -> Any:
            end = in_flight.begin()
            if not context.add_callback(end):
                end()
            return behavior(request, context)

        return handler._replace(unary_unary=tracked)


class GrpcServer:
    """One grpc.Server with the model server's services; start(), then drain and stop."""

    def __init__(self, options: GrpcServerOptions, in_flight: InFlightRequests) -> None:
        self._options = options
        self._server = grpc.server(
            ThreadPoolExecutor(max_workers=max(options.max_threads, 1), thread_name_prefix="grpc"),
            interceptors=[_CountUnaryCalls(in_flight)],
            # gRPC core keeps the first value of a repeated argument.
            options=[*_last_occurrences(options.channel_arguments), *_MESSAGE_SIZE_OPTIONS],
        )
        self._health: health.HealthServicer | None = None
        self.addresses: list[str] = []

    def start(self, add_servicers: AddServicers) -> None:
        """Register the services, bind every address and start serving."""
        options = self._options
        add_servicers(self._server)
        if options.enable_health_service:
            self._health = health.HealthServicer()
            health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        if options.port:
            self._bind(f"{options.bind_address}:{options.port}")
        if options.socket_path:
            self._bind(f"unix:{options.socket_path}")
        self._server.start()
        if self._health is not None:
            for service in HEALTH_SERVICES:
                self._health.set(service, health_pb2.HealthCheckResponse.SERVING)

    def _bind(self, address: str) -> None:
        credentials = self._options.credentials
        try:
            if credentials is None:
                bound = self._server.add_insecure_port(address)
            else:
                bound = self._server.add_secure_port(address, credentials)
        except RuntimeError as error:
            raise GrpcServerError(
                f"Failed to bind the gRPC server to {address}: {error}"
            ) from error
        if not bound:
            raise GrpcServerError(f"Failed to bind the gRPC server to {address}")
        self.addresses.append(address)

    def set_not_serving(self) -> None:
        """Report every health service NOT_SERVING, for good (the drain's first step)."""
        if self._health is not None:
            self._health.enter_graceful_shutdown()

    def stop_accepting(self, grace_seconds: float) -> None:
        """Refuse new calls and connections; calls running may go on for `grace_seconds`."""
        self._server.stop(grace_seconds)

    def stop(self) -> None:
        """Cancel whatever still runs (health Watch streams never end by themselves); wait."""
        self._server.stop(None).wait()
