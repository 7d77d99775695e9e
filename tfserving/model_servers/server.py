"""The local model server process: ServerCore, gRPC and REST in one process.

`Server.build_and_start()` follows TF Serving's Server::BuildAndStart: check the
flags, read the configs, load the initial models (waiting for them, so a server
that answers is a server that serves), then open the gRPC port and/or UNIX socket
and the REST port, and re-read `--model_config_file` periodically if asked to.

`Server.drain()` is the graceful stop on SIGTERM/SIGINT (TF Serving has none):

1. the health service reports NOT_SERVING (clients that health-check, like a
   round-robin channel with `healthCheckConfig`, stop picking this replica);
2. requests are still accepted until none has started for DRAIN_QUIET_SECONDS
   (clients have moved away), at most DRAIN_NOTICE_SECONDS;
3. the ports close: new connections are refused, new calls on open connections
   are refused with UNAVAILABLE (gRPC clients retry them on another replica);
4. running requests finish, for at most DRAIN_GRACE_SECONDS; then what remains
   (health Watch streams) is cancelled, models are unloaded, and the process exits 0.
"""

import logging
import os
import threading
from functools import partial
from pathlib import Path

from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc
from tensorflow_serving.config import model_server_config_pb2

from tfserving.batching.batching_parameters import BatchingConfig, batching_config
from tfserving.batching.batching_session import BatchingSession
from tfserving.batching.shared_batch_scheduler import SharedBatchScheduler
from tfserving.config_files import (
    ConfigFileError,
    prometheus_path,
    read_batching_parameters,
    read_model_server_config,
    read_monitoring_config,
    read_session_config,
    single_model_config,
)
from tfserving.core.aspired_versions_manager import ManagerOptions
from tfserving.core.servable_id import ServableId
from tfserving.errors import ServingError, invalid_argument
from tfserving.flags import ServerOptions
from tfserving.logs import log_event
from tfserving.model_servers.grpc_server import (
    GrpcServer,
    GrpcServerError,
    GrpcServerOptions,
    parse_channel_arguments,
    server_credentials,
)
from tfserving.model_servers.http_rest_api import HttpRestApiHandler
from tfserving.model_servers.http_server import HttpServer, HttpServerError, create_app
from tfserving.model_servers.in_flight import InFlightRequests
from tfserving.model_servers.model_service_impl import ModelServiceImpl
from tfserving.model_servers.prediction_service_impl import (
    PredictionServiceImpl,
    PredictionServiceOptions,
)
from tfserving.model_servers.server_core import ServerCore, ServerCoreOptions
from tfserving.monitoring import Metrics
from tfserving.servables.classification_regression import InferenceOptions
from tfserving.servables.saved_model_bundle import DirectSession, Session
from tfserving.servables.saved_model_loader import LoaderOptions
from tfserving.servables.session_bundle_config import (
    SessionBundleConfig,
    SessionConfigError,
    build_session_config,
    parse_saved_model_tags,
    unsupported_mixed_precision,
)
from tfserving.servables.tensor_codec import TensorEncoding

logger = logging.getLogger(__name__)

# A version's folder may hold its own batching parameters (--enable_per_model_batching_parameters).
PER_MODEL_BATCHING_FILE = "batching_params.pbtxt"
# The drain (see the module docstring): quiet period, its limit, and the grace for running work.
DRAIN_QUIET_SECONDS = 0.25
DRAIN_NOTICE_SECONDS = 2.0
DRAIN_GRACE_SECONDS = 10.0


class StartupError(Exception):
    """The server could not start (bad flags or config, a port in use, a model failing).

    `detail` is a line TF Serving writes before its error (libprotobuf's parse error).
    """

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


def _config_error(error: ConfigFileError) -> StartupError:
    return StartupError(f"INVALID_ARGUMENT: {error}", error.parse_error)


class Server:
    """One model server: build_and_start(), then wait_for_termination() until stopped."""

    def __init__(self, options: ServerOptions) -> None:
        self._options = options
        self._metrics = Metrics()
        self._in_flight = InFlightRequests()
        self._core: ServerCore | None = None
        self._scheduler: SharedBatchScheduler | None = None
        self._grpc: GrpcServer | None = None
        self._http: HttpServer | None = None
        self._poller: threading.Thread | None = None
        self._stopping = threading.Lock()
        self._stopped = threading.Event()

    # -- start ----------------------------------------------------------------------------

    def build_and_start(self) -> None:
        """Load the initial models and open the ports; StartupError if anything fails."""
        options = self._options
        self._check_flags()
        initial_config = self._initial_config()
        wrap_session = self._batching() if options.enable_batching else None
        if options.batching_parameters_file and not options.enable_batching:
            raise StartupError(
                "INVALID_ARGUMENT: server_options.batching_parameters_file is set without "
                "setting server_options.enable_batching to true."
            )
        session_bundle_config = self._session_bundle_config()
        inference = InferenceOptions(method_name_check=options.enable_signature_method_name_check)
        grpc_options = self._grpc_options()
        self._core = ServerCore(
            ServerCoreOptions(
                file_system_poll_wait_seconds=options.file_system_poll_wait_seconds,
                manager=ManagerOptions(
                    max_num_load_retries=max(options.max_num_load_retries, 0),
                    load_retry_interval_seconds=max(options.load_retry_interval_micros, 0) / 1e6,
                ),
                allow_version_labels_for_unavailable_models=(
                    options.allow_version_labels_for_unavailable_models
                ),
                loader=LoaderOptions(
                    enable_model_warmup=options.enable_model_warmup,
                    num_request_iterations_for_warmup=options.num_request_iterations_for_warmup,
                    metrics=self._metrics,
                    wrap_session=wrap_session,
                    session_bundle_config=session_bundle_config,
                    inference=inference,
                ),
            )
        )
        self._core.start()
        try:
            self._core.reload_config(initial_config)
        except ServingError as error:
            raise StartupError(str(error)) from error
        self._start_grpc(grpc_options, inference)
        metrics_path = None
        if options.rest_api_port:
            metrics_path = self._start_http(inference)
        if options.model_config_file and options.model_config_file_poll_wait_seconds > 0:
            self._poller = threading.Thread(
                target=self._poll_config_file,
                args=(initial_config,),
                name="model-config-poller",
                daemon=True,
            )
            self._poller.start()
        log_event(
            logger,
            "server_started",
            grpc=self._grpc.addresses if self._grpc is not None else [],
            rest=f"{options.bind_address}:{options.rest_api_port}"
            if self._http is not None
            else None,
            metrics_path=metrics_path,
            batching=options.enable_batching,
            health_service=options.enable_grpc_healthcheck_service,
            tensor_content=options.enable_serialization_as_tensor_content,
        )

    def _check_flags(self) -> None:
        """TF Serving's first checks, in its order and with its messages."""
        options = self._options
        if options.port == 0 and not options.grpc_socket_path:
            raise StartupError(
                "INVALID_ARGUMENT: At least one of server_options.grpc_port or "
                "server_options.grpc_socket_path must be set."
            )
        if options.use_alts_credentials and options.ssl_config_file:
            raise StartupError(
                "INVALID_ARGUMENT: Either use_alts_credentials must be false or ssl_config_file "
                "must be empty."
            )
        if not options.model_base_path and not options.model_config_file:
            raise StartupError(
                "INVALID_ARGUMENT: Both server_options.model_base_path and "
                "server_options.model_config_file are empty!"
            )

    def _initial_config(self) -> model_server_config_pb2.ModelServerConfig:
        options = self._options
        if options.model_config_file:
            try:
                return read_model_server_config(options.model_config_file)
            except ConfigFileError as error:
                raise _config_error(error) from error
        return single_model_config(options.model_name, options.model_base_path)

    def _session_bundle_config(self) -> SessionBundleConfig:
        options = self._options
        base = None
        if options.tensorflow_session_config_file:
            try:
                base = read_session_config(options.tensorflow_session_config_file)
            except ConfigFileError as error:
                raise _config_error(error) from error
        if unsupported_mixed_precision(options.mixed_precision):
            log_event(
                logger,
                "mixed_precision_ignored",
                logging.WARNING,
                value=options.mixed_precision,
                reason="auto mixed precision is not supported. Valid option: bfloat16",
            )
        try:
            config = build_session_config(
                base,
                session_parallelism=options.tensorflow_session_parallelism,
                intra_op_parallelism=options.tensorflow_intra_op_parallelism,
                inter_op_parallelism=options.tensorflow_inter_op_parallelism,
                per_process_gpu_memory_fraction=options.per_process_gpu_memory_fraction,
                mixed_precision=options.mixed_precision,
            )
        except SessionConfigError as error:
            raise StartupError(f"INVALID_ARGUMENT: {error}") from error
        return SessionBundleConfig(config, parse_saved_model_tags(options.saved_model_tags))

    def _grpc_options(self) -> GrpcServerOptions:
        options = self._options
        try:
            return GrpcServerOptions(
                bind_address=options.bind_address,
                port=options.port,
                socket_path=options.grpc_socket_path,
                max_threads=options.grpc_max_threads,
                channel_arguments=parse_channel_arguments(options.grpc_channel_arguments),
                credentials=server_credentials(
                    options.use_alts_credentials, options.ssl_config_file
                ),
                enable_health_service=options.enable_grpc_healthcheck_service,
            )
        except ConfigFileError as error:
            raise _config_error(error) from error
        except GrpcServerError as error:
            raise StartupError(f"INVALID_ARGUMENT: {error}") from error

    def _batching(self) -> "partial[Session]":
        parameters = None
        if self._options.batching_parameters_file:
            try:
                parameters = read_batching_parameters(self._options.batching_parameters_file)
            except ConfigFileError as error:
                raise _config_error(error) from error
        try:
            config = batching_config(parameters)
        except ValueError as error:
            raise StartupError(f"invalid batching parameters: {error}") from error
        self._scheduler = SharedBatchScheduler(config.num_batch_threads, config.thread_pool_name)
        self._scheduler.start()
        log_event(
            logger,
            "batching_enabled",
            max_batch_size=config.session.queue.max_batch_size,
            batch_timeout_micros=config.session.queue.batch_timeout_micros,
            max_enqueued_batches=config.session.queue.max_enqueued_batches,
            num_batch_threads=config.num_batch_threads,
            allowed_batch_sizes=list(config.session.allowed_batch_sizes),
            per_model_parameters=self._options.enable_per_model_batching_parameters,
        )
        return partial(
            _batching_session,
            config=config,
            scheduler=self._scheduler,
            metrics=self._metrics,
            per_model=self._options.enable_per_model_batching_parameters,
        )

    def _start_grpc(self, grpc_options: GrpcServerOptions, inference: InferenceOptions) -> None:
        assert self._core is not None
        core = self._core
        encoding = (
            TensorEncoding.TENSOR_CONTENT
            if self._options.enable_serialization_as_tensor_content
            else TensorEncoding.PROTO_FIELD
        )
        prediction = PredictionServiceImpl(
            core,
            self._metrics,
            PredictionServiceOptions(encoding, inference.method_name_check),
        )

        def add_servicers(server: object) -> None:
            prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(prediction, server)
            model_service_pb2_grpc.add_ModelServiceServicer_to_server(
                ModelServiceImpl(core), server
            )

        self._grpc = GrpcServer(grpc_options, self._in_flight)
        try:
            self._grpc.start(add_servicers)
        except GrpcServerError as error:
            raise StartupError(str(error)) from error

    def _start_http(self, inference: InferenceOptions) -> str | None:
        """Open the REST port (unless it is the gRPC port); return the metrics path if any."""
        assert self._core is not None
        options = self._options
        if options.rest_api_port == options.port:
            log_event(
                logger,
                "rest_api_skipped",
                logging.ERROR,
                reason="server_options.http_port cannot be same as grpc_port. Please use a "
                "different port for HTTP/REST API. Skipped exporting HTTP/REST API.",
            )
            return None
        metrics_path = None
        if options.monitoring_config_file:
            try:
                metrics_path = prometheus_path(
                    read_monitoring_config(options.monitoring_config_file)
                )
            except ConfigFileError as error:
                raise _config_error(error) from error
        rest_options = InferenceOptions(
            method_name_check=inference.method_name_check,
            timeout_in_ms=max(options.rest_api_timeout_in_ms, 0),
        )
        app = create_app(
            HttpRestApiHandler(self._core, self._metrics, rest_options),
            self._metrics,
            metrics_path,
            options.rest_api_num_threads,
            self._in_flight,
            options.rest_api_enable_cors_support,
        )
        self._http = HttpServer(
            app, options.bind_address, options.rest_api_port, DRAIN_GRACE_SECONDS
        )
        try:
            self._http.start()
        except HttpServerError as error:
            raise StartupError(str(error)) from error
        return metrics_path

    # -- the config file poller -----------------------------------------------------------

    def _poll_config_file(self, applied: model_server_config_pb2.ModelServerConfig) -> None:
        assert self._core is not None
        path = self._options.model_config_file
        while not self._stopped.wait(self._options.model_config_file_poll_wait_seconds):
            try:
                config = read_model_server_config(path)
            except ConfigFileError as error:
                log_event(
                    logger,
                    "config_read_failed",
                    logging.ERROR,
                    path=path,
                    error=f"{error.parse_error} {error}".strip(),
                )
                continue
            # Re-applied on every poll, changed or not, as TF Serving's
            # PollFilesystemAndReloadConfig does: a config pushed by RPC since the last
            # poll (a label, say) gives way to the file's.
            try:
                self._core.reload_config(config)
            except ServingError as error:
                log_event(
                    logger, "config_reload_failed", logging.ERROR, source=path, error=str(error)
                )
                continue
            if config != applied:
                applied = config
                log_event(
                    logger,
                    "config_reloaded",
                    source=path,
                    models=[m.name for m in config.model_config_list.config],
                )

    # -- stop -----------------------------------------------------------------------------

    def wait_for_termination(self) -> None:
        """Block until the server has stopped."""
        self._stopped.wait()

    def drain(self) -> None:
        """Stop gracefully (see the module docstring); returns once stopped."""
        if not self._stopping.acquire(blocking=False):
            return
        log_event(logger, "server_draining", running=self._in_flight.running)
        if self._grpc is not None:
            self._grpc.set_not_serving()
        quiet = self._in_flight.wait_until_quiet(DRAIN_QUIET_SECONDS, DRAIN_NOTICE_SECONDS)
        if self._grpc is not None:
            self._grpc.stop_accepting(DRAIN_GRACE_SECONDS)
        if self._http is not None:
            self._http.stop_accepting()
        finished = self._in_flight.wait_until_idle(DRAIN_GRACE_SECONDS)
        log_event(
            logger,
            "server_drained",
            quiet=quiet,
            finished=finished,
            cancelled=self._in_flight.running,
        )
        self._shut_down()

    def stop(self) -> None:
        """Stop at once: close the ports, cancel what runs, stop loading and batching."""
        if not self._stopping.acquire(blocking=False):
            return
        self._shut_down()

    def _shut_down(self) -> None:
        if self._grpc is not None:
            self._grpc.stop()
        if self._http is not None:
            self._http.stop(timeout=DRAIN_GRACE_SECONDS)
        if self._core is not None:
            self._core.stop()
        if self._scheduler is not None:
            self._scheduler.stop()
        self._stopped.set()
        log_event(logger, "server_stopped", pid=os.getpid())


def _batching_session(
    session: DirectSession,
    servable_id: ServableId,
    path: Path,
    *,
    config: BatchingConfig,
    scheduler: SharedBatchScheduler,
    metrics: Metrics,
    per_model: bool,
) -> Session:
    """The batching session of one version (TF Serving's GetPerModelBatchingParams).

    With per-model parameters, a version is batched only if its folder has
    batching_params.pbtxt, with those queue parameters on the shared batch threads.
    """
    session_options = config.session
    if per_model:
        own = path / PER_MODEL_BATCHING_FILE
        if not own.exists():
            return session
        try:
            session_options = batching_config(read_batching_parameters(own)).session
        except ConfigFileError as error:
            raise invalid_argument(f"{error.parse_error} {error}".strip()) from error
        except ValueError as error:
            raise invalid_argument(f"{own}: {error}") from error
    return BatchingSession(session, servable_id, scheduler, session_options, metrics)
