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

The hostile client sends request bytes built once, on a new connection each, and stops
sending a body once the server has answered (as curl does after an early 413): on these
two cores an attacker written with a Python HTTP client used 0.4 of a core by itself,
which measured the attacker's cost more than the servers'. Its CPU is printed anyway.

Prints, per condition, the good clients' median requests/s and p50, their failed
requests, the CPU cores each process used while wrk ran, the hostile request rate and
answers by status, and the peak RSS (VmHWM) of the gateway, its decoding worker and the
model server after the run.

    .venv/bin/python -P benchmarks/hostile_clients.py [--seconds 10] [--rounds 3]

Targets (issue 9): good requests failed 0; good throughput with the hostile client
>= 0.8x without it; no 5xx to the hostile client.
"""

import argparse
import json
import os
import runpy
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
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
SEND_CHUNK = 256 * 1024


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


def _http_request(path: str, headers: dict[str, str], body: bytes) -> bytes:
    """One HTTP/1.1 request, whole, as bytes (built once, sent every cycle)."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _exchange(address: tuple[str, int], request: bytes) -> str:
    """Send `request` on a new connection and return the answer's status code.

    Like curl, it stops sending the body as soon as the server has answered (a 413 or 431
    that comes before the body is read), so the client measures the server, not the copying.
    """
    with socket.create_connection(address, timeout=30) as sock:
        view = memoryview(request)
        sent = 0
        try:
            while sent < len(view) and not select.select([sock], [], [], 0)[0]:
                sent += sock.send(view[sent : sent + SEND_CHUNK])
        except OSError:
            pass  # the server closed the connection after answering; read that answer
        head = b""
        while b"\r\n" not in head and len(head) < 256:
            chunk = sock.recv(256)
            if not chunk:
                break
            head += chunk
    parts = head.split(b" ", 2)
    return parts[1].decode() if len(parts) > 1 and parts[1].isdigit() else "no answer"


def _model_server_cases(
    grpc_target: str, rest_address: tuple[str, int]
) -> list[tuple[str, Callable[[], str]]]:
    """(name, call returning a status name) of each hostile call to the model server."""
    import grpc

    from gateway.model_client import PREDICT_METHOD
    from protos.slim import predict_pb2, types_pb2

    # No serializers: the stub sends the bytes as they are and returns the answer's bytes.
    predict = grpc.insecure_channel(grpc_target).unary_unary(PREDICT_METHOD)

    def predict_shape(rows: int) -> Callable[[], str]:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = defaults.MODEL_NAME
        request.model_spec.signature_name = defaults.MATRIX_SIGNATURE
        tensor = request.inputs[defaults.MATRIX_INPUT]
        tensor.dtype = types_pb2.DT_FLOAT
        tensor.tensor_shape.dim.add().size = rows
        tensor.tensor_shape.dim.add().size = 54
        tensor.float_val.append(1.0)
        message = request.SerializeToString()

        def call() -> str:
            try:
                predict(message, timeout=30)
            except grpc.RpcError as error:
                return error.code().name
            return "OK"

        return call

    def rest(body: bytes) -> Callable[[], str]:
        path = f"/v1/models/{defaults.MODEL_NAME}:predict"
        request = _http_request(path, {"Content-Type": "application/json"}, body)
        return lambda: _exchange(rest_address, request)

    return [
        ("Predict [200000, 54] from one value", predict_shape(200_000)),
        ("Predict [2**40, 54]", predict_shape(2**40)),
        ("Predict [-1, 54]", predict_shape(-1)),
        ("REST body of 60 MiB", rest(b'{"instances": [' + b"1.0," * (15 * 2**20) + b"1.0]}")),
        ("REST deep JSON", rest(b"[" * 100_000)),
    ]


def _address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def run_hostile(gateway_url: str, grpc_target: str, rest_url: str, report: Path) -> int:
    """Cycle through every hostile case until SIGTERM; then write the answers to `report`.

    `report` with the suffix `.ready` appears once every case has been sent once.
    """
    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    started = time.monotonic()
    address = _address(gateway_url)
    gateway_cases = [
        (name, _http_request(path, headers, body)) for name, path, headers, body in _gateway_cases()
    ]
    server_cases = _model_server_cases(grpc_target, _address(rest_url)) if rest_url else []
    answers: Counter[str] = Counter()
    stalled: list[socket.socket] = []
    huge_headers = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 2**20 + b"\r\n\r\n"
    while not stop:
        for name, request in [*gateway_cases, ("1 MiB of headers", huge_headers)]:
            try:
                answers[f"gateway {name}: {_exchange(address, request)}"] += 1
            except OSError as error:
                answers[f"gateway {name}: {type(error).__name__}"] += 1
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
            try:
                answers[f"model server {name}: {call()}"] += 1
            except OSError as error:
                answers[f"model server {name}: {type(error).__name__}"] += 1
        report.with_suffix(".ready").touch()
    for sock in stalled:
        sock.close()
    seconds = time.monotonic() - started
    report.write_text(json.dumps({"answers": answers, "seconds": seconds}))
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


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds the process has used so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
        hostile_seconds = 0.0
        cpu: dict[str, Counter[str]] = {"calm": Counter(), "hostile": Counter()}
        walls = Counter[str]()
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
                watched = {
                    "gateway": [gateway.pid],
                    "gateway decoding worker": children(gateway.pid),
                    "model server": [server.pid],
                    "hostile client": [hostile.pid] if hostile else [],
                }
                before = {name: sum(map(cpu_seconds, pids)) for name, pids in watched.items()}
                figures = bench.run_wrk(
                    condition, f"{gateway_url}/v1/predict", script, GOOD_CLIENTS, args.seconds, 2
                )
                for name, pids in watched.items():
                    cpu[condition][name] += sum(map(cpu_seconds, pids)) - before[name]
                walls[condition] += args.seconds + 2
                runs[condition].append(figures)
                if hostile is not None:
                    hostile.send_signal(signal.SIGTERM)
                    hostile.wait(120)
                    sent = json.loads(report.read_text())
                    answers.update(sent["answers"])
                    hostile_seconds += sent["seconds"]
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
    print("CPU cores used while wrk ran (CPU seconds / wall seconds, warm-up included):")
    for condition in ("calm", "hostile"):
        used = ", ".join(f"{k} {v / walls[condition]:.2f}" for k, v in cpu[condition].items())
        print(f"  {condition:<8} {used}")
    print(f"hostile requests: {sum(answers.values()) / hostile_seconds:.0f}/s over "
          f"{hostile_seconds:.0f} s")  # fmt: skip
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
        "cpu_cores": {c: {k: v / walls[c] for k, v in cpu[c].items()} for c in cpu},
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
