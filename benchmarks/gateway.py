"""REST latency and throughput: gateway + model server against a model-in-the-web-app baseline.

Starts, on free loopback ports, the model server (`covertype serve`), the gateway
(`covertype gateway`) and the baseline (`benchmarks/baseline_app.py`: one FastAPI
process with the same SavedModel loaded in-process), checks that both answer the
same prediction, then drives each with `wrk` (an external load generator; install it
with `apt-get install -y wrk`) sending one single-instance POST per request, at
concurrency 1 and 16, in `--rounds` rounds that alternate the targets. Prints each
target's median round (requests/s, p50 / p99 latency), plus every run as JSON.

    .venv/bin/python -P benchmarks/gateway.py                      # trains a tiny model first
    .venv/bin/python -P benchmarks/gateway.py --models-dir models  # or uses published versions
    .venv/bin/python -P benchmarks/gateway.py --compare-wire-formats  # typed fields vs content

(`-P` keeps benchmarks/ off sys.path, where this file would shadow the gateway package.)

Targets (issue 4): at concurrency 16 the gateway path serves at least the baseline's
requests/s, and its single-instance p50 is <= 2.5 ms. The load generator shares the
machine's cores with the servers, as every figure here does.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path

from covertype import defaults
from covertype.processes import stop_process
from covertype.schema import EXAMPLE_OBSERVATION

ROOT = Path(__file__).resolve().parent.parent
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{body}]]
"""


@dataclass(frozen=True)
class Figures:
    """One wrk run."""

    target: str
    connections: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((defaults.HOST, 0))
        return probe.getsockname()[1]


def process_tree(pid: int) -> list[int]:
    """`pid` and every process below it."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it exited meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(children.get(current, ()))
    return tree


@contextmanager
def process(
    name: str,
    command: Sequence[str],
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path = ROOT,
    stop_seconds: float = 15,
) -> Iterator[subprocess.Popen]:
    """Run `command` (output in `log_dir/<name>.log`, `env` over ours); on exit terminate it,
    then kill whatever is left of the processes it started."""
    log = (log_dir / f"{name}.log").open("wb")
    child = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, env={**os.environ, **(env or {})}
    )
    try:
        yield child
    finally:
        tree = process_tree(child.pid)
        stop_process(child, stop_seconds)
        for pid in tree[1:]:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        log.close()


def wait_for(url: str, child: subprocess.Popen, log: Path, timeout: float = 180.0) -> None:
    """Poll `url` until it answers 200; fail with the process' log if it dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"{child.args[:4]} exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} not ready after {timeout:.0f}s:\n{log.read_text()[-3000:]}")


def post_example(url: str) -> bytes:
    """POST the example observation to `url`; the body of the answer, as it came."""
    request = urllib.request.Request(
        url,
        data=json.dumps(EXAMPLE_OBSERVATION).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


def predict_once(url: str) -> dict:
    return json.loads(post_example(url))


def run_wrk(
    target: str, url: str, script: Path, connections: int, seconds: int, warmup: int
) -> Figures:
    """Drive `url` with wrk for `seconds` after a `warmup`-second run, and parse its report."""
    threads = min(connections, 2)
    base = ["wrk", f"-t{threads}", f"-c{connections}", "-s", str(script), "--latency"]
    subprocess.run([*base, f"-d{warmup}s", url], check=True, capture_output=True)
    report = subprocess.run(
        [*base, f"-d{seconds}s", url], check=True, capture_output=True, text=True
    ).stdout
    return Figures(
        target=target,
        connections=connections,
        requests_per_second=float(_match(r"Requests/sec:\s+([\d.]+)", report)),
        p50_ms=_milliseconds(_match(r"\s50%\s+([\d.]+\w+)", report)),
        p99_ms=_milliseconds(_match(r"\s99%\s+([\d.]+\w+)", report)),
        requests=int(_match(r"(\d+) requests in", report)),
        errors=_errors(report),
    )


def _match(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    if found is None:
        raise SystemExit(f"unexpected wrk report (no {pattern!r}):\n{text}")
    return found.group(1)


def _milliseconds(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _errors(report: str) -> int:
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report
    )
    total = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        total += sum(int(n) for n in socket_errors.groups())
    return total


def median_run(runs: list[Figures]) -> Figures:
    """The run with the median requests/s (its own latencies, errors summed over all runs)."""
    ranked = sorted(runs, key=lambda r: r.requests_per_second)
    middle = ranked[len(ranked) // 2]
    return Figures(
        middle.target,
        middle.connections,
        middle.requests_per_second,
        middle.p50_ms,
        middle.p99_ms,
        middle.requests,
        sum(r.errors for r in runs),
    )


def tiny_model(models_dir: Path) -> None:
    """Train and publish a small model (a few seconds), as the tests do."""
    from trainer.api import TrainOptions, train_and_publish

    data = ROOT.parent / "shared" / "data" / "train.csv"
    options = TrainOptions(data=data, epochs=2, sample=4000, seed=0, quiet=True)
    published = train_and_publish(options, models_dir)
    print(f"trained version {published.version} at {published.path}", file=sys.stderr)


def latest_version(models_dir: Path, model_name: str) -> Path:
    versions = [p for p in (models_dir / model_name).iterdir() if p.name.isdigit()]
    if not versions:
        raise SystemExit(f"no version under {models_dir / model_name}")
    return max(versions, key=lambda p: int(p.name))


@dataclass(frozen=True)
class Stack:
    """A running model server with a gateway in front of it."""

    model_server: subprocess.Popen
    gateway: subprocess.Popen
    grpc_port: int
    gateway_url: str

    @property
    def predict_url(self) -> str:
        return f"{self.gateway_url}/v1/predict"


def start_stack(
    stack: ExitStack,
    name: str,
    work: Path,
    models_dir: Path,
    model_name: str,
    server_flags: Sequence[str] = (),
    gateway_flags: Sequence[str] = (),
    grpc_socket: Path | None = None,
) -> Stack:
    """Start a model server and a gateway in front of it (stopped when `stack` closes).

    With `grpc_socket`, the model server also listens on that Unix socket
    (`--grpc_socket_path`) and the gateway calls it there instead of on its TCP port.
    """
    grpc_port, gateway_port = free_port(), free_port()
    backend = f"{defaults.HOST}:{grpc_port}"
    if grpc_socket is not None:
        server_flags = [*server_flags, f"--grpc_socket_path={grpc_socket}"]
        backend = f"unix:{grpc_socket}"
    server = stack.enter_context(
        process(
            f"model_server-{name}",
            [
                sys.executable, "-m", "covertype.cli", "serve",
                f"--port={grpc_port}", "--rest_api_port=0",
                f"--model_name={model_name}",
                f"--model_base_path={models_dir.resolve() / model_name}",
                *server_flags,
            ],
            work,
        )
    )  # fmt: skip
    gateway = stack.enter_context(
        process(
            f"gateway-{name}",
            [
                sys.executable, "-m", "covertype.cli", "gateway",
                f"--port={gateway_port}", f"--tfserving={backend}",
                f"--model-name={model_name}", *gateway_flags,
            ],
            work,
        )
    )  # fmt: skip
    gateway_url = f"http://{defaults.HOST}:{gateway_port}"
    wait_for(f"{gateway_url}/healthz", gateway, work / f"gateway-{name}.log")
    wait_for(f"{gateway_url}/readyz", server, work / f"model_server-{name}.log")
    return Stack(server, gateway, grpc_port, gateway_url)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every wrk benchmark takes: the model, and the length and count of runs."""
    parser.add_argument("--models-dir", type=Path, help="default: train a tiny model in a temp dir")
    parser.add_argument("--model-name", default=defaults.MODEL_NAME)
    parser.add_argument("--seconds", type=int, default=10, help="measured seconds per run")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up seconds before each run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per target")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser)
    parser.add_argument("--connections", default="1,16", help="comma-separated concurrency levels")
    parser.add_argument(
        "--compare-wire-formats",
        action="store_true",
        help="instead of the baseline: two gateway + model server stacks, one answering in "
        "typed *_val fields (TF Serving's default), one in tensor_content",
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk not found: install it with `apt-get install -y wrk`", file=sys.stderr)
        return 2
    levels = [int(c) for c in args.connections.split(",")]

    with tempfile.TemporaryDirectory(prefix="covertype-bench-") as scratch, ExitStack() as stack:
        work = Path(scratch)
        models_dir = args.models_dir
        if models_dir is None:
            models_dir = work / "models"
            tiny_model(models_dir)
        version_dir = latest_version(models_dir.resolve(), args.model_name)

        if args.compare_wire_formats:
            targets = {
                "typed *_val fields": start_stack(
                    stack, "typed", work, models_dir, args.model_name
                ).predict_url,
                "tensor_content": start_stack(
                    stack,
                    "content",
                    work,
                    models_dir,
                    args.model_name,
                    ["--enable_serialization_as_tensor_content=true"],
                ).predict_url,
            }
        else:
            baseline_port = free_port()
            ours = start_stack(stack, "gateway", work, models_dir, args.model_name).predict_url
            targets = {"gateway + model server": ours}
            baseline = stack.enter_context(
                process(
                    "baseline",
                    [
                        sys.executable, "-P", str(ROOT / "benchmarks" / "baseline_app.py"),
                        f"--saved-model={version_dir}", f"--port={baseline_port}",
                    ],
                    work,
                )
            )  # fmt: skip
            baseline_url = f"http://{defaults.HOST}:{baseline_port}"
            wait_for(f"{baseline_url}/healthz", baseline, work / "baseline.log")
            targets["baseline (model in app)"] = f"{baseline_url}/v1/predict"

        answers = {name: predict_once(url) for name, url in targets.items()}
        classes = {name: a["predictions"][0]["cover_type"] for name, a in answers.items()}
        if len(set(classes.values())) != 1:
            raise SystemExit(f"the targets disagree: {classes}")

        script = work / "post.lua"
        script.write_text(WRK_SCRIPT.format(body=json.dumps(EXAMPLE_OBSERVATION)))
        # Rounds alternate the targets, so that load from elsewhere on the machine
        # falls on both alike; the table shows each target's median round.
        runs = [
            run_wrk(name, url, script, connections, args.seconds, args.warmup)
            for _ in range(args.rounds)
            for connections in levels
            for name, url in targets.items()
        ]

    medians = [
        median_run([r for r in runs if (r.target, r.connections) == (name, connections)])
        for connections in levels
        for name in targets
    ]
    print(f"median of {args.rounds} alternating rounds of {args.seconds} s, {os.cpu_count()} CPUs")
    print(f"{'target':<26}{'conc':>5}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for r in medians:
        print(
            f"{r.target:<26}{r.connections:>5}{r.requests_per_second:>10.0f}"
            f"{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.errors:>8}"
        )
    print(
        json.dumps(
            {
                "cpus": os.cpu_count(),
                "medians": [asdict(r) for r in medians],
                "runs": [asdict(r) for r in runs],
            }
        )
    )
    return 1 if any(r.errors for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
