"""The local model server process: ServerCore, gRPC and REST in one process.

`Server.build_and_start()` follows TF Serving's Server::BuildAndStart: read the
configs, load the initial models (waiting for them, so a server that answers is
a server that serves), then open the gRPC port and the REST port, and re-read
`--model_config_file` periodically if asked to.
"""

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import grpc
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
    single_model_config,
)
from tfserving.core.aspired_versions_manager import ManagerOptions
from tfserving.core.servable_id import ServableId
from tfserving.errors import ServingError
from tfserving.flags import ServerOptions
from tfserving.logs import log_event
from tfserving.model_servers.http_rest_api import HttpRestApiHandler
from tfserving.model_servers.http_server import HttpServer, HttpServerError, create_app
from tfserving.model_servers.model_service_impl import ModelServiceImpl
from tfserving.model_servers.prediction_service_impl import PredictionServiceImpl
from tfserving.model_servers.server_core import ServerCore, ServerCoreOptions
from tfserving.monitoring import Metrics
from tfserving.servables.saved_model_bundle import DirectSession, Session
from tfserving.servables.saved_model_loader import LoaderOptions

logger = logging.getLogger(__name__)

# TF Serving accepts messages of any size (SetMaxMessageSize(INT_MAX)).
_GRPC_OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]


# What --tensorflow_{intra,inter}_op_parallelism=0 (auto) means for the local server.
AUTO_THREADS = 1


class StartupError(Exception):
    """The server could not start (bad flags or config, a port in use, a model failing)."""


def configure_tensorflow_threads(intra_op: int, inter_op: int) -> None:
    """Apply --tensorflow_{intra,inter}_op_parallelism.

    0 means auto-configure. The local server's choice is one thread for each: its
    requests (or batches) already run in parallel on the gRPC and batch threads, and
    TensorFlow's own pools spinning between the small ops of a small model cost more
    CPU than they save (measured with benchmarks/model_server.py).
    """
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op or AUTO_THREADS)
        tf.config.threading.set_inter_op_parallelism_threads(inter_op or AUTO_THREADS)
    except RuntimeError as error:
        raise StartupError(f"cannot set TensorFlow thread pools: {error}") from error


class Server:
    """One model server: build_and_start(), then wait_for_termination() until stop()."""

    def __init__(self, options: ServerOptions) -> None:
        self._options = options
        self._metrics = Metrics()
        self._core: ServerCore | None = None
        self._scheduler: SharedBatchScheduler | None = None
        self._grpc: grpc.Server | None = None
        self._http: HttpServer | None = None
        self._poller: threading.Thread | None = None
        self._stopped = threading.Event()

    # -- start ----------------------------------------------------------------------------

    def build_and_start(self) -> None:
        """Load the initial models and open the ports; StartupError if anything fails."""
        options = self._options
        initial_config = self._initial_config()
        metrics_path = self._metrics_path()
        configure_tensorflow_threads(
            options.tensorflow_intra_op_parallelism, options.tensorflow_inter_op_parallelism
        )
        wrap_session = self._batching() if options.enable_batching else None
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
                ),
            )
        )
        self._core.start()
        try:
            self._core.reload_config(initial_config)
        except ServingError as error:
            raise StartupError(f"Failed to start server. Error: {error}") from error
        if options.port:
            self._start_grpc()
        if options.rest_api_port:
            self._start_http(metrics_path)
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
            grpc=f"{options.bind_address}:{options.port}" if options.port else None,
            rest=f"{options.bind_address}:{options.rest_api_port}"
            if self._http is not None
            else None,
            metrics_path=metrics_path if self._http is not None else None,
            batching=options.enable_batching,
        )

    def _initial_config(self) -> model_server_config_pb2.ModelServerConfig:
        options = self._options
        if options.model_config_file:
            try:
                return read_model_server_config(options.model_config_file)
            except ConfigFileError as error:
                raise StartupError(str(error)) from error
        if options.model_base_path:
            return single_model_config(options.model_name, options.model_base_path)
        raise StartupError(
            "Both server_options.model_base_path and server_options.model_config_file are empty!"
        )

    def _metrics_path(self) -> str | None:
        if not self._options.monitoring_config_file:
            return None
        try:
            return prometheus_path(read_monitoring_config(self._options.monitoring_config_file))
        except ConfigFileError as error:
            raise StartupError(str(error)) from error

    def _batching(self) -> "partial[Session]":
        parameters = None
        if self._options.batching_parameters_file:
            try:
                parameters = read_batching_parameters(self._options.batching_parameters_file)
            except ConfigFileError as error:
                raise StartupError(str(error)) from error
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
        )
        return partial(
            _batching_session, config=config, scheduler=self._scheduler, metrics=self._metrics
        )

    def _start_grpc(self) -> None:
        assert self._core is not None
        options = self._options
        server = grpc.server(
            ThreadPoolExecutor(
                max_workers=max(options.grpc_max_threads, 1), thread_name_prefix="grpc"
            ),
            options=_GRPC_OPTIONS,
        )
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            PredictionServiceImpl(self._core, self._metrics), server
        )
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(
            ModelServiceImpl(self._core), server
        )
        address = f"{options.bind_address}:{options.port}"
        try:
            bound = server.add_insecure_port(address)
        except RuntimeError as error:
            raise StartupError(f"Failed to bind the gRPC port {address}: {error}") from error
        if not bound:
            raise StartupError(f"Failed to bind the gRPC port {address}")
        server.start()
        self._grpc = server

    def _start_http(self, metrics_path: str | None) -> None:
        assert self._core is not None
        options = self._options
        if options.rest_api_port == options.port:
            log_event(
                logger,
                "rest_api_skipped",
                logging.ERROR,
                reason="--rest_api_port cannot be same as --port",
            )
            return
        app = create_app(
            HttpRestApiHandler(self._core, self._metrics),
            self._metrics,
            metrics_path,
            options.rest_api_num_threads,
        )
        self._http = HttpServer(app, options.bind_address, options.rest_api_port)
        try:
            self._http.start()
        except HttpServerError as error:
            raise StartupError(str(error)) from error

    # -- the config file poller -----------------------------------------------------------

    def _poll_config_file(self, applied: model_server_config_pb2.ModelServerConfig) -> None:
        assert self._core is not None
        path = self._options.model_config_file
        while not self._stopped.wait(self._options.model_config_file_poll_wait_seconds):
            try:
                config = read_model_server_config(path)
            except ConfigFileError as error:
                log_event(logger, "config_read_failed", logging.ERROR, path=path, error=str(error))
                continue
            if config == applied:
                continue
            try:
                self._core.reload_config(config)
            except ServingError as error:
                log_event(
                    logger, "config_reload_failed", logging.ERROR, source=path, error=str(error)
                )
                continue
            applied = config
            log_event(
                logger,
                "config_reloaded",
                source=path,
                models=[m.name for m in config.model_config_list.config],
            )

    # -- stop -----------------------------------------------------------------------------

    def wait_for_termination(self) -> None:
        """Block until stop() is called."""
        self._stopped.wait()

    def stop(self) -> None:
        """Close the ports, then stop loading and batching."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self._grpc is not None:
            self._grpc.stop(grace=2).wait(5)
        if self._http is not None:
            self._http.stop()
        if self._core is not None:
            self._core.stop()
        if self._scheduler is not None:
            self._scheduler.stop()
        log_event(logger, "server_stopped", pid=os.getpid())


def _batching_session(
    session: DirectSession,
    servable_id: ServableId,
    *,
    config: BatchingConfig,
    scheduler: SharedBatchScheduler,
    metrics: Metrics,
) -> Session:
    return BatchingSession(session, servable_id, scheduler, config.session, metrics)
