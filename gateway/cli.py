"""`covertype gateway`: the REST gateway in front of the model server.

Imports nothing heavy at module level: the gateway's environment has no TensorFlow,
and the other components' commands must not pay for the web stack either.
"""

import argparse
import sys
from pathlib import Path

from covertype import defaults


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `gateway` subcommand."""
    parser = subparsers.add_parser(
        "gateway",
        help="serve the REST API in front of the model server",
        description=(
            "Serve the REST API (POST /v1/predict, GET /v1/models, /healthz, /readyz, /metrics, "
            "/docs) in front of a TF Serving compatible model server. Every option can also be "
            "set by the environment variable named in its help; a flag wins over its variable."
        ),
    )
    parser.add_argument(
        "--host", help=f"interface to bind (COVERTYPE_GATEWAY_HOST; default {defaults.HOST})"
    )
    parser.add_argument(
        "--port",
        type=int,
        help=f"port to listen on (COVERTYPE_GATEWAY_PORT; default {defaults.GATEWAY_PORT})",
    )
    parser.add_argument(
        "--tfserving",
        metavar="TARGET",
        help=(
            "model server gRPC target: host:port, dns:///name:port (every address, "
            "round-robin), ipv4:a:p,b:p or unix:path "
            f"(COVERTYPE_TFSERVING; default {defaults.HOST}:{defaults.GRPC_PORT})"
        ),
    )
    parser.add_argument(
        "--model-name",
        help=f"model to serve (COVERTYPE_MODEL_NAME; default {defaults.MODEL_NAME})",
    )
    parser.add_argument(
        "--timeout-seconds",
        type=float,
        help="deadline of every model server call (COVERTYPE_GATEWAY_TIMEOUT_SECONDS; default 5)",
    )
    parser.add_argument(
        "--max-instances",
        type=int,
        help="most instances in one request (COVERTYPE_GATEWAY_MAX_INSTANCES; default 1000)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        help="largest request body (COVERTYPE_GATEWAY_MAX_BODY_BYTES; default 4194304)",
    )
    parser.add_argument(
        "--max-header-bytes",
        type=int,
        help="largest request line plus headers; more gets 431 "
        "(COVERTYPE_GATEWAY_MAX_HEADER_BYTES; default 16384)",
    )
    parser.add_argument(
        "--read-timeout-seconds",
        type=float,
        help="time a client has to send a whole request once it starts; then 408 "
        "(COVERTYPE_GATEWAY_READ_TIMEOUT_SECONDS; default 30)",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        help="open client connections at most; more are closed at once "
        "(COVERTYPE_GATEWAY_MAX_CONNECTIONS; default 1024)",
    )
    parser.add_argument(
        "--client-error-rate",
        type=float,
        help="error answers per second one client address may get at full speed; past "
        "that (and --client-error-burst) its 4xx answers are held up to 1 s "
        "(COVERTYPE_GATEWAY_CLIENT_ERROR_RATE; default 50; 0: never held)",
    )
    parser.add_argument(
        "--client-error-burst",
        type=int,
        help="error answers one client address may get at once before pacing "
        "(COVERTYPE_GATEWAY_CLIENT_ERROR_BURST; default 200)",
    )
    parser.add_argument(
        "--max-concurrent-calls",
        type=int,
        help=(
            "Predict calls in flight per version at once; requests arriving meanwhile share "
            "the next call (COVERTYPE_GATEWAY_MAX_CONCURRENT_CALLS; default 1)"
        ),
    )
    parser.add_argument(
        "--max-batch-instances",
        type=int,
        help=(
            "most instances in one shared Predict call, >= --max-instances "
            "(COVERTYPE_GATEWAY_MAX_BATCH_INSTANCES; default 1024)"
        ),
    )
    parser.add_argument(
        "--model-config-file",
        type=Path,
        help=(
            "the model server's models.config, read for version labels, which TF Serving's "
            "API does not list (COVERTYPE_GATEWAY_MODEL_CONFIG_FILE; default: labels unknown)"
        ),
    )
    parser.add_argument(
        "--prediction-log",
        type=Path,
        help="append every prediction to this JSON lines file (COVERTYPE_PREDICTION_LOG; "
        "default: off)",
    )
    parser.add_argument(
        "--prediction-log-max-bytes",
        type=int,
        help="rotate the prediction log at this size (COVERTYPE_PREDICTION_LOG_MAX_BYTES; "
        "default 104857600; 0: never)",
    )
    parser.add_argument(
        "--prediction-log-backups",
        type=int,
        help="rotated prediction logs kept (COVERTYPE_PREDICTION_LOG_BACKUPS; default 5)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; exit code 2 for unusable options."""
    from gateway.server import serve
    from gateway.settings import SettingsError, load_settings

    overrides = {
        "host": args.host,
        "port": args.port,
        "tfserving": args.tfserving,
        "model_name": args.model_name,
        "timeout_seconds": args.timeout_seconds,
        "max_instances": args.max_instances,
        "max_body_bytes": args.max_body_bytes,
        "max_header_bytes": args.max_header_bytes,
        "read_timeout_seconds": args.read_timeout_seconds,
        "max_connections": args.max_connections,
        "client_error_rate": args.client_error_rate,
        "client_error_burst": args.client_error_burst,
        "max_concurrent_calls": args.max_concurrent_calls,
        "max_batch_instances": args.max_batch_instances,
        "model_config_file": args.model_config_file,
        "prediction_log": args.prediction_log,
        "prediction_log_max_bytes": args.prediction_log_max_bytes,
        "prediction_log_backups": args.prediction_log_backups,
    }
    try:
        settings = load_settings(overrides)
    except SettingsError as error:
        print(f"covertype gateway: {error}", file=sys.stderr)
        return 2
    serve(settings)
    return 0
