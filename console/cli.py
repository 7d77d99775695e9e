"""`covertype console`: serve the operator's console beside a gateway."""

import argparse
from pathlib import Path

from console.settings import DEFAULT_GATEWAY, DEFAULT_PORT, ConsoleSettings
from covertype.defaults import MODEL_NAME


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `console` subcommand."""
    parser = subparsers.add_parser(
        "console",
        help="serve the operator's console (versions, traffic, drift, history, a prediction form)",
        description=(
            "A read-only web console at http://HOST:PORT/console: the model's versions with "
            "their states, labels and model cards, live traffic per version, input drift, the "
            "release history and a prediction form (sent through the gateway's /v1/predict). "
            "Every script, style and font is served by the console itself."
        ),
    )
    parser.add_argument(
        "--gateway", default=DEFAULT_GATEWAY, help="the gateway's URL (default: %(default)s)"
    )
    parser.add_argument(
        "--registry",
        help="a models folder or s3://bucket/prefix: model cards and release history "
        "(without it, those panels say so)",
    )
    parser.add_argument("--model-name", default=MODEL_NAME, help="default: %(default)s")
    parser.add_argument(
        "--prediction-log",
        type=Path,
        help="the gateway's prediction log (rotated files beside it are read too): drift",
    )
    parser.add_argument("--host", default="127.0.0.1", help="default: %(default)s")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="default: %(default)s")
    parser.add_argument(
        "--refresh-seconds",
        type=float,
        default=2.0,
        help="how often the page refreshes its live panels (default: %(default)s)",
    )
    parser.set_defaults(handler=run_console)


def run_console(args: argparse.Namespace) -> int:
    """Serve the console until interrupted."""
    import uvicorn

    from console.app import create_app

    if args.refresh_seconds <= 0:
        raise SystemExit("covertype console: --refresh-seconds must be positive")
    settings = ConsoleSettings(
        gateway=args.gateway.rstrip("/"),
        registry=args.registry,
        model_name=args.model_name,
        prediction_log=args.prediction_log,
        host=args.host,
        port=args.port,
        refresh_seconds=args.refresh_seconds,
    )
    print(f"covertype console: http://{settings.host}:{settings.port}/console", flush=True)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")
    return 0
