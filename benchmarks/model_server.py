"""Benchmark the local model server's gRPC Predict: latency and throughput, batched or not.

    .venv/bin/python benchmarks/model_server.py [--saved-model DIR] [--max-seconds 8]

Starts two `covertype serve --backend=local` servers on free loopback ports over
the same SavedModel (one plain, one with `--enable_batching` and the repository's
`tfserving/batching.config`), then for each signature (`serving_default`, 54 named
inputs; `predict_matrix`, one [n, 54] matrix), request size (1 and 1,000 rows) and
concurrency (1 and 16 client threads) sends Predict calls for a bounded count and
time, and prints p50/p99 latency, requests/s and rows/s. Requests are serialized
once and sent as bytes, so the figures measure the server, not the client's
protobuf work. Without --saved-model, a tiny model is trained first (a few
seconds, `trainer.api`).

    .venv/bin/python -P benchmarks/model_server.py --saved-model NEW --baseline OLD [--rounds 5]

compares two SavedModels instead (say, versions trained by the new and the previous
code): both are served at once by two unbatched servers, and one-row Predict calls
(concurrency 1, each signature) go to one then the other, the first switching every
round; it prints each round's p50 of both, their medians and the ratio new / old.
"""

import argparse
import csv
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import get_model_status_pb2, predict_pb2

from covertype import defaults, schema

REPO = Path(__file__).resolve().parents[1]

MODEL = defaults.MODEL_NAME
PREDICT_METHOD = "/tensorflow.serving.PredictionService/Predict"
STATUS_METHOD = "/tensorflow.serving.ModelService/GetModelStatus"
SIZES = (1, 1000)
CONCURRENCY = (1, 16)
MAX_REQUESTS = {1: 3000, 1000: 300}
WARMUP_REQUESTS = 30


@dataclass(frozen=True)
class Result:
    """One scenario's measurements."""

    server: str
    signature: str
    rows: int
    concurrency: int
    requests: int
    p50_ms: float
    p99_ms: float
    requests_per_second: float

    @property
    def rows_per_second(self) -> float:
        """Rows predicted per second."""
        return self.requests_per_second * self.rows


def free_port() -> int:
    """A TCP port nothing listens on right now, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def model_server(base_path: Path, extra_args: list[str]) -> Iterator[str]:
    """`covertype serve --backend=local` on a free loopback port; yields its gRPC target."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "covertype.cli",
        "serve",
        "--backend=local",
        f"--port={port}",
        f"--model_name={MODEL}",
        f"--model_base_path={base_path}",
        *extra_args,
    ]
    with tempfile.NamedTemporaryFile(prefix="model-server-", suffix=".log") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        try:
            wait_ready(f"127.0.0.1:{port}", process, Path(log.name))
            yield f"127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_ready(
    target: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120
) -> None:
    """Until GetModelStatus reports a version AVAILABLE; exit with the log if it dies."""
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = MODEL
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(target) as channel:
        status = channel.unary_unary(STATUS_METHOD)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"model server exited:\n{log.read_text(errors='replace')}")
            try:
                response = get_model_status_pb2.GetModelStatusResponse.FromString(
                    status(request.SerializeToString(), timeout=2)
                )
                if any(s.state == s.AVAILABLE for s in response.model_version_status):
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    raise SystemExit(f"model server at {target} not ready after {timeout:g} s")


def request_bytes(signature: str, rows: np.ndarray) -> bytes:
    """A serialized PredictRequest for `rows` on one of the two signatures."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = MODEL
    request.model_spec.signature_name = signature
    if signature == defaults.MATRIX_SIGNATURE:
        request.inputs[defaults.MATRIX_INPUT].CopyFrom(tf.make_tensor_proto(rows))
    else:
        for column, name in enumerate(schema.FEATURE_COLUMNS):
            request.inputs[name].CopyFrom(tf.make_tensor_proto(rows[:, column]))
    return request.SerializeToString()


def measure(
    target: str, payload: bytes, concurrency: int, max_requests: int, max_seconds: float
) -> tuple[list[float], float]:
    """Latencies (s) of up to max_requests calls from `concurrency` threads, and the wall time."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop = threading.Event()
    budget = [max_requests]
    with grpc.insecure_channel(target) as channel:
        predict = channel.unary_unary(PREDICT_METHOD)
        for _ in range(WARMUP_REQUESTS):
            predict(payload, timeout=30)

        def client() -> None:
            while not stop.is_set():
                with lock:
                    if budget[0] <= 0:
                        return
                    budget[0] -= 1
                started = time.perf_counter()
                predict(payload, timeout=30)
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)

        threads = [threading.Thread(target=client) for _ in range(concurrency)]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        timer = threading.Timer(max_seconds, stop.set)
        timer.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - began
        timer.cancel()
    return latencies, wall


def run_scenarios(name: str, target: str, data: np.ndarray, max_seconds: float) -> list[Result]:
    """Every signature x size x concurrency against one server, printed as they finish."""
    results = []
    for signature in (defaults.DEFAULT_SIGNATURE, defaults.MATRIX_SIGNATURE):
        for size in SIZES:
            payload = request_bytes(signature, data[:size])
            for concurrency in CONCURRENCY:
                latencies, wall = measure(
                    target, payload, concurrency, MAX_REQUESTS[size], max_seconds
                )
                ordered = sorted(latencies)
                result = Result(
                    server=name,
                    signature=signature,
                    rows=size,
                    concurrency=concurrency,
                    requests=len(ordered),
                    p50_ms=ordered[len(ordered) // 2] * 1e3,
                    p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3,
                    requests_per_second=len(ordered) / wall,
                )
                print(format_result(result), flush=True)
                results.append(result)
    return results


def format_result(r: Result) -> str:
    """One table row."""
    return (
        f"{r.server:<10} {r.signature:<16} {r.rows:>5} {r.concurrency:>4} {r.requests:>6} "
        f"{r.p50_ms:>8.3f} {r.p99_ms:>8.3f} {r.requests_per_second:>9.0f} "
        f"{r.rows_per_second:>10.0f}"
    )


def tiny_model(workdir: Path) -> Path:
    """Train the contract's fast test model (a few seconds) and return its SavedModel folder."""
    from trainer.api import TrainOptions, build_candidate

    options = TrainOptions(
        data=REPO.parent / "shared" / "data" / "train.csv",
        epochs=1,
        sample=2000,
        seed=0,
        quiet=True,
    )
    return Path(build_candidate(options, workdir).path)


def load_rows(count: int) -> np.ndarray:
    """`count` rows of training features (repeated if the file is shorter)."""
    with (REPO.parent / "shared" / "data" / "train.csv").open(newline="") as handle:
        picked = [row for _, row in zip(range(count), csv.DictReader(handle), strict=False)]
    data = np.array([[float(r[c]) for c in schema.FEATURE_COLUMNS] for r in picked], np.float32)
    return np.resize(data, (count, data.shape[1]))


def serve_one(saved_model: Path, workdir: Path, name: str) -> Path:
    """A base path `workdir/name/covertype/1` linking to `saved_model`; returns the base path."""
    base = workdir / name / MODEL
    base.mkdir(parents=True)
    (base / "1").symlink_to(saved_model.resolve(), target_is_directory=True)
    return base


def compare(new: Path, old: Path, rounds: int, max_seconds: float, server_args: list[str]) -> None:
    """One-row p50 of `new` and `old`, served side by side, over alternating rounds."""
    row = load_rows(1)
    print(f"new {new}\nold {old}\n{os.cpu_count()} CPUs; {MAX_REQUESTS[1]} calls per round")
    print(f"{'round':>5} {'signature':<16} {'new p50 ms':>11} {'old p50 ms':>11} {'new/old':>8}")
    p50s: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as workdir, ExitStack() as servers:
        targets = {
            name: servers.enter_context(
                model_server(serve_one(path, Path(workdir), name), server_args)
            )
            for name, path in (("new", new), ("old", old))
        }
        for index in range(rounds):
            for signature in (defaults.DEFAULT_SIGNATURE, defaults.MATRIX_SIGNATURE):
                payload = request_bytes(signature, row)
                order = ["new", "old"] if index % 2 == 0 else ["old", "new"]
                p50 = {}
                for name in order:
                    latencies, _ = measure(targets[name], payload, 1, MAX_REQUESTS[1], max_seconds)
                    p50[name] = statistics.median(latencies) * 1e3
                    p50s.setdefault((signature, name), []).append(p50[name])
                print(
                    f"{index + 1:>5} {signature:<16} {p50['new']:>11.3f} {p50['old']:>11.3f} "
                    f"{p50['new'] / p50['old']:>8.2f}",
                    flush=True,
                )
    print()
    for signature in (defaults.DEFAULT_SIGNATURE, defaults.MATRIX_SIGNATURE):
        new_p50 = statistics.median(p50s[(signature, "new")])
        old_p50 = statistics.median(p50s[(signature, "old")])
        print(
            f"{signature}: one-row p50 median of {rounds} rounds: new {new_p50:.3f} ms, "
            f"old {old_p50:.3f} ms, new/old {new_p50 / old_p50:.2f}"
        )


def main() -> int:
    """Parse the options, start the two servers in turn, measure, summarize."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saved-model", type=Path, help="a SavedModel folder (default: train one)")
    parser.add_argument("--max-seconds", type=float, default=8.0, help="time limit per scenario")
    parser.add_argument(
        "--batching-config",
        type=Path,
        default=REPO / "tfserving" / "batching.config",
        help="BatchingParameters for the batched server",
    )
    parser.add_argument(
        "--server-arg", action="append", default=[], help="extra flag for both servers (repeatable)"
    )
    parser.add_argument(
        "--baseline", type=Path, help="compare --saved-model with this SavedModel folder"
    )
    parser.add_argument("--rounds", type=int, default=5, help="comparison rounds (default: 5)")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.baseline:
        if not args.saved_model:
            parser.error("--baseline needs --saved-model (the model to compare with it)")
        compare(args.saved_model, args.baseline, args.rounds, args.max_seconds, args.server_arg)
        return 0
    with tempfile.TemporaryDirectory() as workdir:
        saved_model = args.saved_model or tiny_model(Path(workdir) / "candidate")
        base = serve_one(saved_model, Path(workdir), "models")
        data = load_rows(max(SIZES))
        print(
            f"model {saved_model}; {os.cpu_count()} CPUs; limits: {MAX_REQUESTS} requests, "
            f"{args.max_seconds:g} s per scenario"
        )
        print(
            f"{'server':<10} {'signature':<16} {'rows':>5} {'conc':>4} {'calls':>6} "
            f"{'p50 ms':>8} {'p99 ms':>8} {'req/s':>9} {'rows/s':>10}"
        )
        results = []
        with model_server(base, args.server_arg) as target:
            results += run_scenarios("unbatched", target, data, args.max_seconds)
        batching = ["--enable_batching", f"--batching_parameters_file={args.batching_config}"]
        with model_server(base, [*batching, *args.server_arg]) as target:
            results += run_scenarios("batched", target, data, args.max_seconds)
    print_summary(results)
    return 0


def print_summary(results: list[Result]) -> None:
    """The figures the targets are about, per signature."""

    def find(server: str, signature: str, rows: int, concurrency: int) -> Result:
        return next(
            r
            for r in results
            if (r.server, r.signature, r.rows, r.concurrency)
            == (server, signature, rows, concurrency)
        )

    print()
    for signature in (defaults.DEFAULT_SIGNATURE, defaults.MATRIX_SIGNATURE):
        single = find("unbatched", signature, 1, 1)
        plain = find("unbatched", signature, 1, 16)
        batched = find("batched", signature, 1, 16)
        print(
            f"{signature}: one-row p50 {single.p50_ms:.3f} ms (target <= 1.0); 1-row calls at "
            f"concurrency 16: {plain.requests_per_second:.0f} req/s unbatched, "
            f"{batched.requests_per_second:.0f} batched = "
            f"{batched.requests_per_second / plain.requests_per_second:.2f}x (target >= 2x)"
        )


if __name__ == "__main__":
    sys.exit(main())
