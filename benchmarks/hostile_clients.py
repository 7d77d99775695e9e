"""Good clients beside a hostile one: do the good ones notice?

Starts the model server and the gateway on free loopback ports, then alternates
rounds: `wrk` as 6 good clients (one valid observation per POST) alone, and the same
with one hostile client running beside it (this script with `--hostile`), which cycles
through every hostile case it knows as fast as the servers answer:

- to the gateway: values past float32 and past every domain, a version past int64,
  3 MB of instances with 300 unknown keys each, 1,000 invalid one-hot instances,
  duplicate keys, a form body, 100,000 nested brackets, 1 MiB of headers, and up to
  200 connections held open mid-body;
- to the model server: a Predict asking for [200000, 54] floats with one value, for
  [2**40, 54], for [-1, 54]; a 60 MiB REST body; 100,000 nested brackets over REST.

Prints, per condition, the good clients' median requests/s and p50, their failed
requests, the hostile answers by status, and the peak RSS (VmHWM) of the gateway, its
decoding worker and the model server after the run.

    .venv/bin/python -P benchmarks/hostile_clients.py [--seconds 10] [--rounds 3]

Targets (issue 9): good requests failed 0; good throughput with the hostile client
>= 0.8x without it; no 5xx to the hostile client.
"""

import argparse
import json
import os
import runpy
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace

from covertype import defaults
from covertype.schema import (
    EXAMPLE_OBSERVATION,
    NUMERIC_COLUMNS,
    SOIL_COLUMNS,
    WILDERNESS_COLUMNS,
)

ROOT = Path(__file__).resolve().parent.parent
GOOD_CLIENTS = 6
STALLED_CONNECTIONS = 200


def _gateway_bench() -> SimpleNamespace:
    """benchmarks/gateway.py's functions (wrk runs, medians); a script, not an importable module."""
    return SimpleNamespace(**runpy.run_path(str(ROOT / "benchmarks" / "gateway.py")))


# -- the hostile client ---------------------------------------------------------------------


def _one_hot(observation: dict[str, int]) -> dict[str, int]:
    row = {name: observation[name] for name in NUMERIC_COLUMNS}
    row.update(
        {c: int(i + 1 == observation["wilderness_area"]) for i, c in enumerate(WILDERNESS_COLUMNS)}
    )
    row.update({c: int(i + 1 == observation["soil_type"]) for i, c in enumerate(SOIL_COLUMNS)})
    return row


def _gateway_cases() -> list[tuple[str, str, dict[str, str], bytes]]:
    """(name, path and query, headers, body) of each hostile request to the gateway."""
    json_type = {"Content-Type": "application/json"}

    def observation(**changes: object) -> bytes:
        return json.dumps({**EXAMPLE_OBSERVATION, **changes}).encode()

    unknown = {**EXAMPLE_OBSERVATION, **{f"u{k}": k for k in range(300)}}
    invalid_one_hot = {**_one_hot(EXAMPLE_OBSERVATION), "Elevation": -1}
    return [
        ("past float32", "/v1/predict", json_type,
         observation(Horizontal_Distance_To_Roadways=1e39)),
        ("past the domain", "/v1/predict", json_type,
         observation(Horizontal_Distance_To_Hydrology=1e20)),
        ("version past int64", "/v1/predict?version=9223372036854775808", json_type, observation()),
        ("3 MB of unknown keys", "/v1/predict", json_type,
         json.dumps({"instances": [unknown] * 1000}, separators=(",", ":")).encode()),
        ("1,000 invalid one-hot", "/v1/predict", json_type,
         json.dumps({"instances": [invalid_one_hot] * 1000}).encode()),
        ("duplicate keys", "/v1/predict", json_type, b'{"Elevation": 1, "Elevation": 2}'),
        ("form body", "/v1/predict", {"Content-Type": "application/x-www-form-urlencoded"},
         b"Elevation=1"),
        ("deep JSON", "/v1/predict", json_type, b"[" * 100_000),
    ]  # fmt: skip


def _send_raw(address: tuple[str, int], data: bytes) -> int:
    """Send raw bytes, read the answer's status (0: none)."""
    with socket.create_connection(address, timeout=30) as sock:
        sock.sendall(data)
        head = sock.recv(64)
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def _model_server_cases(grpc_target: str, rest_url: str) -> list[tuple[str, object]]:
    """(name, callable returning a status name) of each hostile call to the model server."""
    import grpc
    import httpx
    from tensorflow.core.framework import types_pb2
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(grpc_target))

    def predict_shape(rows: int) -> object:
        def call() -> str:
            request = predict_pb2.PredictRequest()
            request.model_spec.name = defaults.MODEL_NAME
            request.model_spec.signature_name = defaults.MATRIX_SIGNATURE
            tensor = request.inputs[defaults.MATRIX_INPUT]
            tensor.dtype = types_pb2.DT_FLOAT
            tensor.tensor_shape.dim.add().size = rows
            tensor.tensor_shape.dim.add().size = 54
            tensor.float_val.append(1.0)
            try:
                stub.Predict(request, timeout=30)
            except grpc.RpcError as error:
                return error.code().name
            return "OK"

        return call

    def rest(body: bytes) -> object:
        def call() -> str:
            url = f"{rest_url}/v1/models/{defaults.MODEL_NAME}:predict"
            try:
                return str(httpx.post(url, content=body, timeout=60).status_code)
            except httpx.HTTPError as error:
                return type(error).__name__

        return call

    return [
        ("Predict [200000, 54] from one value", predict_shape(200_000)),
        ("Predict [2**40, 54]", predict_shape(2**40)),
        ("Predict [-1, 54]", predict_shape(-1)),
        ("REST body of 60 MiB", rest(b'{"instances": [' + b"1.0," * (15 * 2**20) + b"1.0]}")),
        ("REST deep JSON", rest(b"[" * 100_000)),
    ]


def run_hostile(gateway_url: str, grpc_target: str, rest_url: str, report: Path) -> int:
    """Cycle through every hostile case until SIGTERM; then write the answers to `report`.

    `report` with the suffix `.ready` appears once every case has been sent once.
    """
    import httpx

    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    host, port = gateway_url.removeprefix("http://").rsplit(":", 1)
    address = (host, int(port))
    gateway_cases = _gateway_cases()
    server_cases = _model_server_cases(grpc_target, rest_url) if rest_url else []
    answers: Counter[str] = Counter()
    stalled: list[socket.socket] = []
    huge_headers = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 2**20 + b"\r\n\r\n"
    with httpx.Client(base_url=gateway_url, timeout=60) as http:
        while not stop:
            for name, path, headers, body in gateway_cases:
                try:
                    status = str(http.post(path, content=body, headers=headers).status_code)
                except httpx.HTTPError as error:
                    status = type(error).__name__
                answers[f"gateway {name}: {status}"] += 1
            try:
                answers[f"gateway 1 MiB of headers: {_send_raw(address, huge_headers)}"] += 1
            except OSError as error:
                answers[f"gateway 1 MiB of headers: {type(error).__name__}"] += 1
            stalled = [s for s in stalled if s.fileno() >= 0]
            while len(stalled) < STALLED_CONNECTIONS:
                try:
                    sock = socket.create_connection(address, timeout=5)
                    sock.sendall(
                        b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                        b"\r\nContent-Length: 100000\r\n\r\n{"
                    )
                    stalled.append(sock)
                except OSError:
                    answers["gateway stalled connection: refused"] += 1
                    break
            for name, call in server_cases:
                answers[f"model server {name}: {call()}"] += 1  # type: ignore[operator]
            report.with_suffix(".ready").touch()
    for sock in stalled:
        sock.close()
    report.write_text(json.dumps(answers))
    return 0


# -- the benchmark --------------------------------------------------------------------------


def _wait_until_ready(hostile: subprocess.Popen[bytes], ready: Path) -> None:
    """Until the hostile client has sent every case once (so wrk measures it in full flow)."""
    deadline = time.monotonic() + 300
    while not ready.exists():
        if hostile.poll() is not None or time.monotonic() > deadline:
            code = hostile.returncode
            raise SystemExit(f"the hostile client never got through its cases (exit {code})")
        time.sleep(0.1)


def peak_rss_mib(pid: int) -> float:
    """The process' peak resident set size (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in found.read_text().split()] if found.exists() else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="measured seconds per run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--no-model-server-cases", action="store_true",
                        help="send the hostile cases to the gateway only")  # fmt: skip
    parser.add_argument("--hostile", nargs=4, metavar=("GATEWAY", "GRPC", "REST", "REPORT"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args(argv)
    if args.hostile:
        gateway_url, grpc_target, rest_url, report = args.hostile
        return run_hostile(gateway_url, grpc_target, rest_url, Path(report))
    if shutil.which("wrk") is None:
        print("wrk not found: install it with `apt-get install -y wrk`", file=sys.stderr)
        return 2
    bench = _gateway_bench()
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="covertype-hostile-") as scratch, ExitStack() as stack:
        work = Path(scratch)
        models_dir = work / "models"
        bench.tiny_model(models_dir)
        grpc_port, rest_port, gateway_port = bench.free_port(), bench.free_port(), bench.free_port()
        server = stack.enter_context(
            bench.process(
                "model_server",
                [
                    python, "-m", "covertype.cli", "serve",
                    f"--port={grpc_port}", f"--rest_api_port={rest_port}",
                    f"--model_name={defaults.MODEL_NAME}",
                    f"--model_base_path={models_dir / defaults.MODEL_NAME}",
                ],
                work,
            )
        )  # fmt: skip
        gateway = stack.enter_context(
            bench.process(
                "gateway",
                [
                    python, "-m", "covertype.cli", "gateway", f"--port={gateway_port}",
                    f"--tfserving={defaults.HOST}:{grpc_port}",
                ],
                work,
            )
        )  # fmt: skip
        gateway_url = f"http://{defaults.HOST}:{gateway_port}"
        bench.wait_for(f"{gateway_url}/healthz", gateway, work / "gateway.log")
        bench.wait_for(f"{gateway_url}/readyz", server, work / "model_server.log")
        script = work / "post.lua"
        script.write_text(bench.WRK_SCRIPT.format(body=json.dumps(EXAMPLE_OBSERVATION)))
        rest_url = "" if args.no_model_server_cases else f"http://{defaults.HOST}:{rest_port}"
        runs = {"calm": [], "hostile": []}
        answers: Counter[str] = Counter()
        for round_number in range(args.rounds):
            for condition in ("calm", "hostile"):
                hostile = None
                if condition == "hostile":
                    report = work / f"hostile-{round_number}.json"
                    hostile = subprocess.Popen(
                        [python, "-P", __file__, "--hostile", gateway_url,
                         f"{defaults.HOST}:{grpc_port}", rest_url, str(report)],
                        cwd=ROOT,
                    )  # fmt: skip
                    _wait_until_ready(hostile, report.with_suffix(".ready"))
                figures = bench.run_wrk(
                    condition, f"{gateway_url}/v1/predict", script, GOOD_CLIENTS, args.seconds, 2
                )
                runs[condition].append(figures)
                if hostile is not None:
                    hostile.send_signal(signal.SIGTERM)
                    hostile.wait(120)
                    answers.update(json.loads(report.read_text()))
        workers = children(gateway.pid)
        memory = {
            "gateway": peak_rss_mib(gateway.pid),
            "gateway decoding worker": max((peak_rss_mib(p) for p in workers), default=0.0),
            "model server": peak_rss_mib(server.pid),
        }
    calm, hostile_run = (bench.median_run(runs[c]) for c in ("calm", "hostile"))
    print(f"{GOOD_CLIENTS} good clients (wrk), median of {args.rounds} alternating rounds of "
          f"{args.seconds} s, {os.cpu_count()} CPUs")  # fmt: skip
    print(f"{'condition':<10}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'failed':>8}")
    for r in (calm, hostile_run):
        print(f"{r.target:<10}{r.requests_per_second:>10.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}"
              f"{r.errors:>8}")  # fmt: skip
    ratio = hostile_run.requests_per_second / calm.requests_per_second
    print(f"good throughput with the hostile client: {ratio:.2f}x of calm")
    print("hostile answers:")
    for key, count in sorted(answers.items()):
        print(f"  {count:>6}  {key}")
    print("peak RSS (VmHWM): " + ", ".join(f"{k} {v:.0f} MiB" for k, v in memory.items()))
    # 503 is an answer on purpose (a lane full of large bodies; the model server busy).
    failures = sum(
        n for k, n in answers.items() if k.rsplit(": ", 1)[1] in ("500", "502", "504", "INTERNAL")
    )
    print(f"hostile requests answered 500/502/504/INTERNAL: {failures}")
    summary = {
        "ratio": ratio,
        "good_failed": calm.errors + hostile_run.errors,
        "hostile_failures": failures,
        "answers": answers,
        "peak_rss_mib": memory,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
