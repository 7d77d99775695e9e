"""Where the microseconds of one request go: py-spy on the gateway and on the model server.

Starts our stack (model server + gateway, as benchmarks/gateway.py does) on free loopback
ports, measures one-row `Predict` straight to the model server with a gRPC client
(grpcio and the project's slim stubs; issue 15's target: p50 <= 0.5 ms), then drives
`POST /v1/predict` at concurrency 1 with `wrk` while `py-spy record` samples both
processes (raw stacks, nonblocking). Each sample is given to the stage of the innermost
frame a rule below names; samples per stage / sampling rate / requests served (the
gateway's own request counter over the same window) is the stage's cost per request.

The gateway is sampled on CPU only (its event loop's waits are not request work). The
model server is sampled with `--idle`, so that its stages are wall time of the request's
handler thread: waits for the request's message and for the answer to be sent count, and
so does a TensorFlow call whose ops run on TensorFlow's own threads (not by default: they
run in the handler thread). The gRPC call's wall time as the gateway sees it comes from the
gateway's backend-call histogram.

    .venv/bin/python -P benchmarks/profile_request.py [--seconds 20] [--rate 500]
"""

import argparse
import json
import os
import runpy
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import grpc
from prometheus_client.parser import text_string_to_metric_families

from covertype import defaults
from covertype.schema import EXAMPLE_OBSERVATION
from gateway.model_client import PREDICT_METHOD
from gateway.observations import validate_instances
from gateway.predictions import VersionChoice, build_request
from protos.slim import predict_pb2

ROOT = Path(__file__).resolve().parent.parent
PY_SPY = Path(sys.executable).with_name("py-spy")
GRPC_P50_TARGET_MS = 0.5
UNATTRIBUTED = "not a stage"


def _gateway_bench() -> SimpleNamespace:
    """benchmarks/gateway.py's helpers (our stack, wrk), without putting it on sys.path."""
    return SimpleNamespace(**runpy.run_path(str(ROOT / "benchmarks" / "gateway.py")))


bench = _gateway_bench()


@dataclass(frozen=True)
class Rule:
    """Frames of `path` (a file, or a folder ending in /, as py-spy names them: relative to
    site-packages or the repository) belong to `stage`; only `functions` of it, when given
    (bare names: `send` matches py-spy's `RequestResponseCycle.send`)."""

    stage: str
    path: str
    functions: frozenset[str] = frozenset()

    def matches(self, function: str, filename: str) -> bool:
        located = f"/{filename}"
        in_path = (
            f"/{self.path}" in located if self.path.endswith("/") else located.endswith(self.path)
        )
        bare = function.rpartition(".")[2]
        return in_path and (not self.functions or bare in self.functions)


def _rules(stage: str, path: str, *functions: str) -> Rule:
    return Rule(stage, path, frozenset(functions))


HTTP_PARSE = "HTTP parse (uvicorn httptools protocol)"
ROUTING = "FastAPI/Starlette routing, middleware, handler glue"
LOG_METRICS = "access log and metrics"
BODY = "body parse (JSON) and validation (pydantic)"
BUILD = "PredictRequest build and batcher"
CLIENT = "gRPC client call (gateway CPU)"
RESPONSE = "response: read PredictResponse, JSON, send"
LOOP = "event loop, sockets, other C code"
# Most specific first: for each sample, the innermost frame that any rule matches wins.
GATEWAY_RULES: tuple[Rule, ...] = (
    _rules(RESPONSE, "gateway/predictions.py", "read_response", "as_json", "rows"),
    _rules(RESPONSE, "gateway/tensors.py", "flat_values", "shape_of"),
    _rules(RESPONSE, "gateway/routes.py", "_json"),
    _rules(RESPONSE, "gateway/prediction_log.py"),
    _rules(RESPONSE, "starlette/responses.py"),
    _rules(RESPONSE, "uvicorn/protocols/http/httptools_impl.py", "send"),
    _rules(RESPONSE, "gateway/middleware.py", "send_with_id"),
    _rules(LOG_METRICS, "gateway/middleware.py", "_record"),
    _rules(LOG_METRICS, "gateway/metrics.py"),
    _rules(LOG_METRICS, "covertype/json_logs.py"),
    _rules(LOG_METRICS, "logging/"),
    _rules(LOG_METRICS, "prometheus_client/"),
    _rules(BODY, "gateway/decoding.py"),
    _rules(BODY, "gateway/payload.py"),
    _rules(BODY, "gateway/observations.py"),
    _rules(BODY, "pydantic/"),
    _rules(BUILD, "gateway/predictions.py", "build_request", "apply"),
    _rules(BUILD, "gateway/tensors.py", "float_matrix"),
    _rules(BUILD, "gateway/batching.py"),
    _rules(CLIENT, "gateway/model_client.py"),
    _rules(CLIENT, "grpc/aio/"),
    _rules(CLIENT, "grpc/"),
    _rules(HTTP_PARSE, "covertype/http_protocol.py"),
    _rules(
        HTTP_PARSE,
        "uvicorn/protocols/http/httptools_impl.py",
        "data_received",
        "on_message_begin",
        "on_url",
        "on_header",
        "on_headers_complete",
        "on_body",
        "on_message_complete",
        "_get_upgrade",
        "_should_upgrade",
        "_should_upgrade_to_ws",
    ),
    _rules(ROUTING, "uvicorn/protocols/http/httptools_impl.py", "run_asgi"),
    _rules(ROUTING, "uvicorn/middleware/"),
    _rules(ROUTING, "starlette/"),
    _rules(ROUTING, "fastapi/"),
    _rules(ROUTING, "anyio/"),
    _rules(ROUTING, "gateway/routes.py"),
    _rules(ROUTING, "gateway/middleware.py"),
    _rules(ROUTING, "gateway/errors.py"),
)

SERVER_HANDLING = "gRPC server: receive, dispatch, servicer, metrics, send"
DECODE = "decode: signature lookup, inputs to numpy"
TF_CALL = "TensorFlow Session run"
ENCODE = "encode: outputs to TensorProto, serialize"
# The model server's request work is what its handler threads do under this gRPC function;
# its poll thread and idle threads are left out (the call's wall time still has them).
SERVER_SCOPE = "_unary_response_in_pool"
SERVER_RULES: tuple[Rule, ...] = (
    _rules(TF_CALL, "tensorflow/python/client/session.py"),
    _rules(TF_CALL, "tfserving/servables/saved_model_bundle.py", "run", "_endpoint"),
    _rules(ENCODE, "tfserving/servables/tensor_codec.py", "to_proto", "_packed_field", "_varints"),
    _rules(ENCODE, "tfserving/servables/tensor_codec.py", "_varint"),
    _rules(ENCODE, "tfserving/servables/predict_util.py", "run_predict"),
    _rules(ENCODE, "grpc/_server.py", "_serialize_response"),
    _rules(DECODE, "tfserving/servables/tensor_codec.py"),
    _rules(DECODE, "tfserving/servables/predict_util.py"),
)
GATEWAY_STAGES = (HTTP_PARSE, ROUTING, BODY, BUILD, CLIENT, RESPONSE, LOG_METRICS, LOOP)
SERVER_STAGES = (SERVER_HANDLING, DECODE, TF_CALL, ENCODE)


def stage_of(stack: Sequence[str], rules: Sequence[Rule], default: str) -> str:
    """The stage of a sampled stack (frames root first, each `function (file)`)."""
    for frame in reversed(stack):
        function, _, filename = frame.partition(" (")
        filename = filename.rstrip(")")
        for rule in rules:
            if rule.matches(function, filename):
                return rule.stage
    return default


def stage_samples(
    raw: Path, rules: Sequence[Rule], default: str, scope: str | None = None
) -> Counter[str]:
    """Samples per stage in a py-spy raw (collapsed) file; with `scope`, only the stacks
    that pass through a function of that name count (the others are `UNATTRIBUTED`)."""
    samples: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if scope is not None and not any(f.split(" (")[0].endswith(scope) for f in frames):
            samples[UNATTRIBUTED] += int(count)
        elif stack:
            samples[stage_of(frames, rules, default)] += int(count)
    return samples


@dataclass(frozen=True)
class GatewayCounters:
    """The gateway's own figures: predictions answered and seconds spent on them."""

    requests: float
    request_seconds: float
    backend_calls: float
    backend_seconds: float

    def __sub__(self, other: "GatewayCounters") -> "GatewayCounters":
        return GatewayCounters(
            self.requests - other.requests,
            self.request_seconds - other.request_seconds,
            self.backend_calls - other.backend_calls,
            self.backend_seconds - other.backend_seconds,
        )


def gateway_counters(gateway_url: str) -> GatewayCounters:
    """Read `/metrics`: answered predictions and the request and Predict-call histograms."""
    with urllib.request.urlopen(f"{gateway_url}/metrics", timeout=5) as response:
        text = response.read().decode()
    values: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            answered = labels.get("route") == "/v1/predict" and labels.get("status", "200") == "200"
            predicted = labels.get("method") == "Predict" and labels.get("code") == "OK"
            if answered or predicted:
                values[sample.name] += sample.value
    return GatewayCounters(
        values["covertype_gateway_requests_total"],
        values["covertype_gateway_request_duration_seconds_sum"],
        values["covertype_gateway_backend_call_duration_seconds_count"],
        values["covertype_gateway_backend_call_duration_seconds_sum"],
    )


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) every thread of `pid` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def direct_predict_ms(target: str, model_name: str, calls: int) -> list[float]:
    """Latencies (ms) of one-row `Predict` calls to the gRPC `target` (`host:port`,
    `unix:path`), one at a time, after as many warm-up calls as a tenth of `calls`: the
    request the gateway sends, straight to the model server."""
    rows = validate_instances([EXAMPLE_OBSERVATION])
    request = build_request(rows, model_name, VersionChoice())
    with grpc.insecure_channel(target) as channel:
        predict = channel.unary_unary(
            PREDICT_METHOD,
            request_serializer=predict_pb2.PredictRequest.SerializeToString,
            response_deserializer=predict_pb2.PredictResponse.FromString,
        )
        for _ in range(max(calls // 10, 1)):
            predict(request, timeout=10)
        latencies = []
        for _ in range(calls):
            started = time.perf_counter()
            predict(request, timeout=10)
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def record(pid: int, output: Path, seconds: int, rate: int, idle: bool) -> subprocess.Popen:
    """Start `py-spy record` on `pid` (raw format, nonblocking) for `seconds`."""
    command = [
        str(PY_SPY), "record", f"--pid={pid}", "--format=raw", "--nolineno", "--nonblocking",
        f"--rate={rate}", f"--duration={seconds}", f"--output={output}",
    ]  # fmt: skip
    if idle:
        command.append("--idle")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(recorder: subprocess.Popen) -> None:
    _, errors = recorder.communicate(timeout=120)
    if recorder.returncode != 0:
        raise SystemExit(f"py-spy failed: {errors.decode(errors='replace')[-2000:]}")


def print_table(
    gateway: Counter[str],
    server: Counter[str],
    counters: GatewayCounters,
    rate: int,
    p50_ms: float,
    cpu: Sequence[float],
) -> None:
    """Microseconds per request, per stage, and the wall-time and CPU figures around them
    (`cpu`: CPU seconds of the gateway and of the model server over the profile)."""
    requests = counters.requests
    per_request = 1e6 / rate / requests

    def row(process: str, stage: str, micros: float, measure: str) -> None:
        print(f"| {process} | {stage} | {micros:,.0f} | {measure} |")

    print("| process | stage | us per request | measured as |")
    print("|---|---|---|---|")
    for stage in GATEWAY_STAGES:
        row("gateway", stage, gateway[stage] * per_request, "CPU samples")
    gateway_cpu = sum(gateway[s] for s in GATEWAY_STAGES) * per_request
    row("gateway", "total CPU", gateway_cpu, "CPU samples")
    row("gateway", "process CPU, every thread", cpu[0] * 1e6 / requests, "/proc")
    backend_wall = counters.backend_seconds / counters.backend_calls * 1e6
    row("gateway", "gRPC Predict call, wall (includes the model server)", backend_wall, "metric")
    for stage in SERVER_STAGES:
        row("model server", stage, server[stage] * per_request, "handler thread samples")
    server_wall = sum(server[s] for s in SERVER_STAGES) * per_request
    row("model server", "total in the handler thread", server_wall, "handler thread samples")
    row("model server", "process CPU, every thread", cpu[1] * 1e6 / requests, "/proc")
    row(
        "both",
        "gRPC core, poll threads and wire (call wall - server handler)",
        backend_wall - server_wall,
        "difference",
    )
    in_app = counters.request_seconds / requests * 1e6
    row("gateway", "request in the app, wall (middleware)", in_app, "metric")
    row("client", "request p50, wall (wrk)", p50_ms * 1000, "wrk")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, help="default: train a tiny model in a temp dir")
    parser.add_argument("--model-name", default=defaults.MODEL_NAME)
    parser.add_argument("--seconds", type=int, default=20, help="profiled seconds")
    parser.add_argument("--rate", type=int, default=500, help="py-spy samples per second")
    parser.add_argument("--grpc-calls", type=int, default=3000, help="direct Predict calls")
    parser.add_argument(
        "--keep-profiles", type=Path, help="a folder to keep the raw py-spy profiles in"
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk not found: install it with `apt-get install -y wrk`", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="covertype-profile-") as scratch, ExitStack() as stack:
        work = Path(scratch)
        models_dir = args.models_dir
        if models_dir is None:
            models_dir = work / "models"
            bench.tiny_model(models_dir)
        ours = bench.start_stack(stack, "profile", work, models_dir, args.model_name)

        latencies = direct_predict_ms(
            f"{defaults.HOST}:{ours.grpc_port}", args.model_name, args.grpc_calls
        )
        grpc_p50 = statistics.median(latencies)
        grpc_p99 = statistics.quantiles(latencies, n=100)[98]

        script = work / "post.lua"
        script.write_text(bench.WRK_SCRIPT.format(body=json.dumps(EXAMPLE_OBSERVATION)))
        # wrk warms up for a second, then runs past both ends of the profile, whose
        # requests the gateway's own counters bracket.
        with ThreadPoolExecutor(max_workers=1) as driver:
            load = driver.submit(
                bench.run_wrk, "gateway", ours.predict_url, script, 1, args.seconds + 4, 1
            )
            time.sleep(2)
            before = gateway_counters(ours.gateway_url)
            pids = (ours.gateway.pid, ours.model_server.pid)
            cpu_before = [cpu_seconds(pid) for pid in pids]
            recorders = [
                record(ours.gateway.pid, work / "gateway.txt", args.seconds, args.rate, False),
                record(ours.model_server.pid, work / "server.txt", args.seconds, args.rate, True),
            ]
            for recorder in recorders:
                finish(recorder)
            cpu = [cpu_seconds(pid) - used for pid, used in zip(pids, cpu_before, strict=True)]
            counters = gateway_counters(ours.gateway_url) - before
            p50_ms = load.result().p50_ms
        if args.keep_profiles is not None:
            args.keep_profiles.mkdir(parents=True, exist_ok=True)
            for name in ("gateway.txt", "server.txt"):
                shutil.copy(work / name, args.keep_profiles / name)
        gateway = stage_samples(work / "gateway.txt", GATEWAY_RULES, LOOP)
        server = stage_samples(work / "server.txt", SERVER_RULES, SERVER_HANDLING, SERVER_SCOPE)

    print(
        f"gRPC Predict, one row, straight to the model server ({args.grpc_calls} calls): "
        f"p50 {grpc_p50:.3f} ms, p99 {grpc_p99:.3f} ms "
        f"(target p50 <= {GRPC_P50_TARGET_MS} ms: "
        f"{'MET' if grpc_p50 <= GRPC_P50_TARGET_MS else 'NOT MET'})"
    )
    print(
        f"REST at concurrency 1 through the gateway: {counters.requests:.0f} requests in the "
        f"{args.seconds} s profile, py-spy at {args.rate} Hz"
    )
    print_table(gateway, server, counters, args.rate, p50_ms, cpu)
    return 0


if __name__ == "__main__":
    sys.exit(main())
