"""`covertype demo`: the main job end to end on one machine.

Train and publish a version, start the model server and the gateway, answer a few
real requests through both interfaces (REST via the gateway, gRPC straight to the
model server), then keep serving until interrupted. With `--registry s3` the version is
published into a local S3 server and reaches the model server through `covertype sync`
(covertype.demo_registry).
"""

import argparse
import json
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from covertype import defaults
from covertype.processes import stop_process
from covertype.schema import EXAMPLE_OBSERVATION, FEATURE_COLUMNS
from covertype.tensorflow_logs import import_tensorflow

if TYPE_CHECKING:
    from trainer.options import TrainOptions

DEMO_SAMPLE_ROWS = 50_000
STARTUP_TIMEOUT_SECONDS = 120.0
REGISTRY_KINDS = ("s3",)
S3_PORT = 9000
SYNC_METRICS_PORT = 9102  # `covertype sync`'s own default
CONSOLE_PORT = 8090  # `covertype console`'s own default
PREDICTION_LOG = Path("runs/demo-predictions.jsonl")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `demo` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="train, serve and answer requests end to end (what `make demo` runs)",
        description=(
            "Train a model on the data found, publish it, start the model server and the "
            "gateway, send real requests through REST and gRPC, and keep serving."
        ),
    )
    parser.add_argument("--data", type=Path, help="training data (default: discovery order)")
    parser.add_argument("--models-dir", type=Path, default=defaults.MODELS_DIR)
    parser.add_argument(
        "--sample",
        type=int,
        default=DEMO_SAMPLE_ROWS,
        help=f"stratified sample of at most this many rows (default {DEMO_SAMPLE_ROWS:,}; "
        "`covertype train` uses every row)",
    )
    parser.add_argument("--epochs", type=int, help="training epochs (default: the trainer's)")
    parser.add_argument("--grpc-port", type=int, default=defaults.GRPC_PORT)
    parser.add_argument("--rest-port", type=int, default=defaults.REST_PORT)
    parser.add_argument("--gateway-port", type=int, default=defaults.GATEWAY_PORT)
    parser.add_argument(
        "--console-port",
        type=int,
        default=CONSOLE_PORT,
        help="the operator's console (default %(default)s)",
    )
    parser.add_argument(
        "--prediction-log",
        type=Path,
        default=PREDICTION_LOG,
        help="the gateway's prediction log, which the console reads for drift "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--serve-seconds",
        type=float,
        default=0.0,
        help="stop after this many seconds of serving (default 0: until interrupted)",
    )
    registry = parser.add_argument_group(
        "registry mode (what `make demo-registry` runs)",
        "With --registry s3: start a local S3 server (`rclone serve s3` over "
        "<models-dir>/s3, credentials made for this run), publish into s3://covertype/registry, "
        "and serve what `covertype sync` downloads into <models-dir>/served.",
    )
    registry.add_argument(
        "--registry",
        choices=REGISTRY_KINDS,
        help="publish into a registry instead of the models folder; `s3`: a local S3 server "
        "(default: folder mode, no registry)",
    )
    registry.add_argument(
        "--s3-port",
        type=int,
        default=S3_PORT,
        help="the local S3 server's port (default %(default)s)",
    )
    registry.add_argument(
        "--sync-metrics-port",
        type=int,
        default=SYNC_METRICS_PORT,
        help="the sync's /metrics and /readyz port (default %(default)s)",
    )
    parser.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo; returns the exit code."""
    import_tensorflow()
    if args.registry == "s3":
        from covertype.demo_registry import run_registry_demo

        return run_registry_demo(args)

    from trainer.api import train_and_publish

    models_dir: Path = args.models_dir.resolve()
    steps = Steps(4)
    steps.next("train and publish")
    published = train_and_publish(train_options(args), models_dir)
    print_published(published.version, str(published.path), published.metrics)
    print(f"  model card: {published.path / defaults.ASSETS_EXTRA}")

    processes: list[subprocess.Popen[bytes]] = []
    try:
        model_source = (
            f"--model_name={defaults.MODEL_NAME}",
            f"--model_base_path={models_dir / defaults.MODEL_NAME}",
        )
        stack = start_stack(
            args, steps, processes, model_source, published.version, registry=str(models_dir)
        )
        print_how_to_call(stack.gateway_url, stack.grpc_target, args.rest_port)
        print(
            "Publish a new version with `.venv/bin/covertype train` in another shell: "
            "the model server picks it up with no failed request."
        )
        serve_until_stopped(processes, args.serve_seconds)
    finally:
        stop_all(processes)
    return 0


class Steps:
    """Numbered step headings: `== 2/4 start the model server`."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0

    def next(self, title: str) -> None:
        """Print the next step's heading."""
        self.done += 1
        print(f"\n== {self.done}/{self.total} {title}", flush=True)


@dataclass(frozen=True)
class Stack:
    """Where the running model server, gateway and console answer."""

    grpc_target: str
    gateway_url: str
    console_url: str


def train_options(args: argparse.Namespace, data: Path | str | None = None) -> "TrainOptions":
    """The trainer's options from the demo's flags (`data` overrides `--data`)."""
    from trainer.api import TrainOptions

    epochs = {} if args.epochs is None else {"epochs": args.epochs}
    return TrainOptions(data=data or args.data, sample=args.sample, seed=0, **epochs)


def print_published(version: int, where: str, metrics: dict[str, Any]) -> None:
    """Print what was published and how good it is."""
    print(
        f"published version {version} at {where}\n"
        f"  test accuracy {metrics['accuracy']:.4f}, macro F1 {metrics['macro_f1']:.4f}, "
        f"rows used {metrics.get('rows')}"
    )


def start_stack(
    args: argparse.Namespace,
    steps: Steps,
    processes: list[subprocess.Popen[bytes]],
    model_source: Sequence[str],
    version: int,
    registry: str,
    gateway_flags: Sequence[str] = (),
) -> Stack:
    """Start the model server (reading `model_source` flags), the gateway (logging
    predictions) and the console (reading `registry`), appending them to `processes`,
    then answer one REST and one gRPC request."""
    steps.next("start the model server")
    grpc_target = f"{defaults.HOST}:{args.grpc_port}"
    processes.append(
        spawn(
            "serve", f"--port={args.grpc_port}", f"--rest_api_port={args.rest_port}", *model_source
        )
    )
    wait_for_version(grpc_target, version, processes[-1])
    print(f"model server: gRPC {grpc_target}, REST http://{defaults.HOST}:{args.rest_port}")

    steps.next("start the gateway")
    gateway_url = f"http://{defaults.HOST}:{args.gateway_port}"
    prediction_log = args.prediction_log.resolve()
    processes.append(
        spawn(
            "gateway",
            f"--port={args.gateway_port}",
            f"--tfserving={grpc_target}",
            f"--prediction-log={prediction_log}",
            *gateway_flags,
        )
    )
    wait_for_ready(gateway_url, processes[-1])
    print(f"gateway: {gateway_url} (OpenAPI docs at {gateway_url}/docs)")
    console_url = f"http://{defaults.HOST}:{args.console_port}"
    processes.append(
        spawn(
            "console",
            f"--port={args.console_port}",
            f"--gateway={gateway_url}",
            f"--registry={registry}",
            f"--prediction-log={prediction_log}",
        )
    )
    wait_for_ready(console_url, processes[-1], "console", path="/healthz")
    print(f"console: {console_url}/console (versions, traffic, drift, history, try it)")

    steps.next("answer requests")
    show_rest_prediction(gateway_url)
    show_grpc_prediction(grpc_target)
    return Stack(grpc_target, gateway_url, console_url)


def spawn(*command: str) -> subprocess.Popen[bytes]:
    """Start `covertype <command>` with this interpreter; its logs go to our stderr."""
    return subprocess.Popen(
        [sys.executable, "-m", "covertype.cli", *command], stdout=sys.stderr, stderr=sys.stderr
    )


def wait_for_version(grpc_target: str, version: int, process: subprocess.Popen[bytes]) -> None:
    """Wait until the model server reports `version` AVAILABLE."""
    from release.serving import ModelServer, ServerError

    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    with ModelServer(grpc_target, defaults.MODEL_NAME, rpc_timeout=2.0) as server:
        while True:
            ensure_running(process, "model server")
            try:
                server.wait_available([version], timeout=1.0)
                return
            except ServerError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)


def wait_for_ready(
    url: str, process: subprocess.Popen[bytes], name: str = "gateway", path: str = "/readyz"
) -> None:
    """Wait until `url` + `path` (the gateway's, the sync's or the console's) answers 200."""
    import httpx

    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        ensure_running(process, name)
        try:
            if httpx.get(f"{url}{path}", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"the {name} at {url} was not ready in time")


def ensure_running(process: subprocess.Popen[bytes], name: str) -> None:
    """Raise if `process` has exited (its log is already on stderr)."""
    if process.poll() is not None:
        raise RuntimeError(f"the {name} exited with code {process.returncode}; see its log above")


def show_rest_prediction(gateway_url: str) -> None:
    """POST one observation to the gateway and print the answer."""
    import httpx

    response = httpx.post(f"{gateway_url}/v1/predict", json=EXAMPLE_OBSERVATION, timeout=10.0)
    response.raise_for_status()
    print(f"REST  POST {gateway_url}/v1/predict ->")
    print(json.dumps(response.json(), indent=2))


def show_grpc_prediction(grpc_target: str) -> None:
    """Call `PredictionService.Predict` on the model server with the official stubs."""
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    row = dict.fromkeys(FEATURE_COLUMNS, 0.0)
    row.update({k: v for k, v in EXAMPLE_OBSERVATION.items() if k in row})
    row[f"Wilderness_Area{EXAMPLE_OBSERVATION['wilderness_area']}"] = 1.0
    row[f"Soil_Type{EXAMPLE_OBSERVATION['soil_type']}"] = 1.0
    request = predict_pb2.PredictRequest()
    request.model_spec.name = defaults.MODEL_NAME
    request.model_spec.signature_name = defaults.MATRIX_SIGNATURE
    request.inputs[defaults.MATRIX_INPUT].CopyFrom(
        tf.make_tensor_proto([[row[c] for c in FEATURE_COLUMNS]], dtype=tf.float32)
    )
    with grpc.insecure_channel(grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(request, timeout=10.0)
    cover_type = tf.make_ndarray(response.outputs[defaults.OUTPUT_COVER_TYPE]).tolist()
    probabilities = tf.make_ndarray(response.outputs[defaults.OUTPUT_PROBABILITIES])
    print(f"gRPC  {grpc_target} PredictionService/Predict ({defaults.MATRIX_SIGNATURE}) ->")
    print(
        f"  model_spec: name={response.model_spec.name} version={response.model_spec.version.value}"
        f"\n  cover_type={cover_type} probabilities={probabilities.round(4).tolist()}"
    )


def print_how_to_call(gateway_url: str, grpc_target: str, rest_port: int) -> None:
    """Print commands a user can paste to call the running stack."""
    body = json.dumps(EXAMPLE_OBSERVATION)
    print(
        "\nTry it:\n"
        f"  curl -s -X POST {gateway_url}/v1/predict -H 'Content-Type: application/json' "
        f"-d '{body}'\n"
        f"  curl -s {gateway_url}/v1/models\n"
        f"  curl -s http://{defaults.HOST}:{rest_port}/v1/models/{defaults.MODEL_NAME}\n"
        f"  gRPC: tensorflow_serving.apis PredictionServiceStub on {grpc_target}"
    )


def serve_until_stopped(processes: Sequence[subprocess.Popen[bytes]], seconds: float) -> None:
    """Block until Ctrl-C / SIGTERM, `seconds` (if > 0), or a server exits."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    deadline = time.monotonic() + seconds if seconds > 0 else float("inf")
    print("\nServing. Press Ctrl-C to stop.", flush=True)
    try:
        while time.monotonic() < deadline:
            for process in processes:
                ensure_running(process, "server")
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping")


def stop_all(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    """Stop children in the reverse order of their start."""
    for process in reversed(processes):
        stop_process(process)
