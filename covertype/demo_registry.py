"""`covertype demo --registry s3` (what `make demo-registry` runs): the demo in registry mode.

One machine, no Docker: a local S3 server (`rclone serve s3` over `<models-dir>/s3`, with
credentials made for this run and given to the children only as the standard AWS_*
variables), the training data and version 1 published into `s3://covertype/registry`, a
`covertype sync` that downloads it into `<models-dir>/served` and writes the models.config
the model server polls, then the same model server and gateway as folder mode.
"""

import argparse
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from covertype import defaults
from covertype.demo import (
    Steps,
    print_how_to_call,
    print_published,
    serve_until_stopped,
    spawn,
    start_stack,
    stop_all,
    train_options,
    wait_for_ready,
)

BUCKET = "covertype"
PREFIX = "registry"
SYNC_POLL_SECONDS = 1
# Variables that would send a session token, another profile or another region to the
# local server along with this run's keys.
CONFLICTING_AWS_VARIABLES = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION")


def run_registry_demo(args: argparse.Namespace) -> int:
    """Run the demo in registry mode; returns the exit code."""
    from registry.local_s3 import start_local_s3
    from trainer.api import train_and_publish

    # From the first child on, a SIGTERM must still run the `finally` that stops them.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    models_dir: Path = args.models_dir.resolve()
    served = models_dir / "served"
    config_file = served / "models.config"
    steps = Steps(6)

    steps.next("start a local S3 server")
    s3 = start_local_s3(models_dir / "s3", args.s3_port, models_dir / "s3-rclone.log")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        use_aws_environment(s3.environment())
        registry_uri = f"{s3.create_bucket(BUCKET, exist_ok=True)}/{PREFIX}"
        print(
            f"S3 server: {s3.endpoint} (rclone serve s3 over {s3.root}, log {s3.log_path})\n"
            f"registry: {registry_uri}"
        )

        steps.next(f"push the data, train and publish into {registry_uri}")
        data_uri = push_training_data(args.data, registry_uri)
        published = train_and_publish(train_options(args, data_uri), registry_uri)
        print_published(
            published.version, f"{registry_uri} ({defaults.MODEL_NAME})", published.metrics
        )

        steps.next("start the sync")
        sync_url = f"http://{defaults.HOST}:{args.sync_metrics_port}"
        processes.append(
            spawn(
                "sync",
                f"--registry={registry_uri}",
                f"--models-dir={served}",
                f"--model-name={defaults.MODEL_NAME}",
                f"--poll-seconds={SYNC_POLL_SECONDS}",
                f"--metrics-port={args.sync_metrics_port}",
            )
        )
        wait_for_ready(sync_url, processes[-1], "sync")
        print(
            f"sync: {registry_uri} -> {served} (config {config_file}); metrics {sync_url}/metrics"
        )

        model_source = (
            f"--model_config_file={config_file}",
            f"--model_config_file_poll_wait_seconds={SYNC_POLL_SECONDS}",
            f"--file_system_poll_wait_seconds={SYNC_POLL_SECONDS}",
        )
        stack = start_stack(
            args,
            steps,
            processes,
            model_source,
            published.version,
            registry=registry_uri,
            gateway_flags=(f"--model-config-file={config_file}",),
        )
        print_how_to_call(stack.gateway_url, stack.grpc_target, args.rest_port)
        print_registry_commands(registry_uri, s3.environment(), data_uri)
        serve_until_stopped(processes, args.serve_seconds)
    finally:
        stop_all(processes)
        s3.stop()
    return 0


def use_aws_environment(environment: dict[str, str]) -> None:
    """Point this process's boto3, and every child's, at the local S3 server."""
    for name in CONFLICTING_AWS_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(environment)


def push_training_data(data: Path | None, registry_uri: str) -> str | None:
    """Push the training file into the registry; return its data URI (None when the data
    comes from scikit-learn's download, which has no file to push)."""
    from registry.data import push_data
    from trainer.data import locate_data

    location = locate_data(data)
    if location.path is None:
        print("no local data file to push: training on scikit-learn's fetch_covtype download")
        return None
    data_uri = push_data(location.path, registry_uri)
    print(f"pushed {location.path} -> {data_uri}")
    return data_uri


def print_registry_commands(
    registry_uri: str, environment: dict[str, str], data_uri: str | None
) -> None:
    """Print the AWS_* exports of this run and the registry commands to try with them."""
    exports = " ".join(f"{name}={shlex.quote(value)}" for name, value in environment.items())
    covertype = ".venv/bin/covertype"
    data = f" --data {data_uri}" if data_uri else ""
    print(
        "\nRegistry mode: in another shell, with this run's credentials (they die with it):\n"
        f"  export {exports}\n"
        f"  {covertype} versions --registry {registry_uri}    # versions, states, labels\n"
        f"  {covertype} train{data} --registry {registry_uri}\n"
        "      # publishes the next version: the sync downloads it, the model server loads it\n"
        f"  {covertype} label stable N --registry {registry_uri}\n"
        "      # moves a label (once version N has been served for the sync's label delay, 30 s)\n"
        f"  {covertype} rollback --registry {registry_uri}\n"
        "      # retires the newest version (nothing is deleted): the sync falls back"
    )
