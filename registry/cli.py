"""`covertype sync` and `covertype data push`: shells around the registry package.

No TensorFlow here or in anything these commands import.
"""

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from covertype import defaults
from covertype.json_logs import JsonFormatter

METRICS_HOST = "127.0.0.1"
METRICS_PORT = 9102


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `sync` and `data` subcommands."""
    _register_sync(subparsers)
    _register_data(subparsers)


def _register_sync(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sync",
        help="keep a model server's folder and config in step with a registry",
        description=(
            "Poll the registry; download each committed, live version into "
            "<models-dir>/<model-name>/<N> (verified against its manifest), write the model "
            "server's config, remove retired versions. Runs until SIGTERM or SIGINT. "
            "S3 credentials and endpoint come from the AWS_* environment variables."
        ),
    )
    parser.add_argument("--registry", required=True, help="a folder or s3://BUCKET[/PREFIX]")
    parser.add_argument(
        "--models-dir", type=Path, required=True, help="the folder the server reads"
    )
    parser.add_argument("--model-name", default=defaults.MODEL_NAME, help="default: %(default)s")
    parser.add_argument(
        "--config-file",
        type=Path,
        help="the model config file the server polls (default: <models-dir>/models.config)",
    )
    parser.add_argument(
        "--poll-seconds", type=_non_negative, default=5.0, help="default: %(default)s"
    )
    parser.add_argument(
        "--removal-grace-seconds",
        type=_non_negative,
        default=60.0,
        help="how long a version stays on disk after leaving the config (default: %(default)s)",
    )
    parser.add_argument(
        "--label-delay-seconds",
        type=_non_negative,
        default=30.0,
        help="how long a version is listed in the config before a label moves to it; above "
        "the server's config poll plus a model load (default: %(default)s)",
    )
    parser.add_argument("--metrics-host", default=METRICS_HOST, help="default: %(default)s")
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=METRICS_PORT,
        help="/metrics, /healthz, /readyz; 0 disables (default: %(default)s)",
    )
    parser.set_defaults(handler=run_sync)


def _register_data(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="training data in a registry")
    actions = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    push = actions.add_parser(
        "push",
        help="store a training file content-addressed (sha256) in a registry",
        description="Prints the file's URI, for `covertype train --data URI`.",
    )
    push.add_argument("file", type=Path, metavar="FILE")
    push.add_argument("--registry", required=True, help="a folder or s3://BUCKET[/PREFIX]")
    push.set_defaults(handler=run_data_push)


def run_sync(args: argparse.Namespace) -> int:
    """Run the sync until a signal stops it."""
    from registry.errors import RegistryError
    from registry.sync import Sync, SyncOptions
    from registry.sync_metrics import SyncMetrics, serve_metrics
    from registry.uri import RegistryURIError, open_registry

    _json_logs()
    try:
        registry = open_registry(args.registry)
    except (RegistryURIError, RegistryError) as error:
        print(f"covertype sync: {error}", file=sys.stderr)
        return 2
    options = SyncOptions(
        models_dir=args.models_dir.absolute(),
        model_name=args.model_name,
        config_file=(args.config_file or args.models_dir / "models.config").absolute(),
        poll_seconds=args.poll_seconds,
        removal_grace_seconds=args.removal_grace_seconds,
        label_delay_seconds=args.label_delay_seconds,
    )
    metrics = SyncMetrics()
    count_store_requests = getattr(registry.store, "on_request", None)
    if count_store_requests is not None:
        count_store_requests(metrics.store_requests.inc)
    if args.metrics_port:
        serve_metrics(metrics, args.metrics_host, args.metrics_port)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    logging.getLogger("covertype.sync").info(
        "sync started",
        extra={"registry": registry.uri, "base_path": str(options.base_path)},
    )
    Sync(registry, options, metrics).run(stop)
    return 0


def run_data_push(args: argparse.Namespace) -> int:
    """Push one data file; print its URI."""
    from registry.data import push_data
    from registry.errors import RegistryError
    from registry.uri import RegistryURIError

    if not args.file.is_file():
        print(f"covertype data push: {args.file}: no such file", file=sys.stderr)
        return 2
    try:
        print(push_data(args.file, args.registry))
    except (RegistryURIError, RegistryError) as error:
        print(f"covertype data push: {error}", file=sys.stderr)
        return 1
    return 0


def print_versions(registry_uri: str, model_name: str) -> int:
    """Print every committed version of a registry: state, labels, card summary."""
    from registry.errors import RegistryError
    from registry.uri import RegistryURIError, open_registry

    try:
        registry = open_registry(registry_uri)
        registry.store.check()
        versions = registry.versions(model_name)
    except (RegistryURIError, RegistryError) as error:
        print(f"covertype versions: {error}", file=sys.stderr)
        return 1
    print(f"{registry.uri}: {model_name}, {len(versions)} committed version(s)")
    print(f"{'version':>7}  {'state':8} {'labels':14} {'accuracy':>8} {'macro F1':>8}  data")
    for info in versions:
        card = info.card
        accuracy = f"{card.accuracy:.4f}" if card.accuracy is not None else "-"
        f1 = f"{card.macro_f1:.4f}" if card.macro_f1 is not None else "-"
        data = f"{card.data_uri or '-'} ({(card.data_fingerprint or '-')[:12]})"
        labels = ",".join(info.labels) or "-"
        print(f"{info.version:>7}  {info.state:8} {labels:14} {accuracy:>8} {f1:>8}  {data}")
    return 0


def _json_logs() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for noisy in ("botocore", "boto3", "s3transfer", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
    return value
