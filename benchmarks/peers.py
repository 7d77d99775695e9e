"""Latency against other serving frameworks: our stack, Ray Serve and BentoML, in one run.

Every target serves the same SavedModel behind the same JSON (`POST /v1/predict` with
`covertype.schema.EXAMPLE_OBSERVATION`), on free loopback ports:

- covertype: the model server (`covertype serve`) and the gateway in front of it;
- Ray Serve tuned per its performance guide: HAProxy ingress (`RAY_SERVE_ENABLE_HA_PROXY`),
  the throughput-optimized flags (`RAY_SERVE_THROUGHPUT_OPTIMIZED`) and
  `max_ongoing_requests=100`;
- Ray Serve with its defaults;
- BentoML with `workers="cpu_count"`.

The peers run in `.venv-peers` (`make bench-peers` builds it; benchmarks/peers/ holds their
apps). The script checks that every target answers the same class and probabilities (to
1e-5), takes each one's resident memory at rest (the whole process tree), then drives each
with `wrk` at concurrency 1 and 16 in rounds that alternate the targets, and prints the
median round of each with ratios against tuned Ray Serve and issue 15's targets:

    .venv/bin/python -P benchmarks/peers.py [--seconds 10] [--rounds 3] [--models-dir models]

`--floor` adds the floor of our two-hop shape, with (almost) no work in it, to the same
rounds: benchmarks/peers/floor_gateway.py (raw ASGI, `json.loads`, one `grpc.aio` call of
canned bytes, a canned JSON answer) in front of benchmarks/peers/floor_server.py (a sync
gRPC server answering a canned PredictResponse), and the same floor gateway in front of
our model server. Both answer byte for byte what our gateway answers. It also prints
one-row gRPC Predict straight to the canned server and to ours, measured as
benchmarks/profile_request.py measures it.

`--unix-socket` adds a second stack of ours whose gateway calls the model server on a Unix
socket (the model server's `--grpc_socket_path`, as TF Serving's) instead of loopback TCP:
how tiers that share a machine or a pod would be wired. It also times one-row gRPC Predict
straight to that socket.
"""

import argparse
import json
import math
import os
import runpy
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace

import grpc

from covertype import defaults
from covertype.schema import EXAMPLE_OBSERVATION
from gateway.model_client import PREDICT_METHOD
from gateway.observations import validate_instances
from gateway.predictions import VersionChoice, build_request

ROOT = Path(__file__).resolve().parent.parent
PEERS_DIR = ROOT / "benchmarks" / "peers"
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
OURS = "covertype (gateway + model server)"
RAY_TUNED = "Ray Serve, tuned"
RAY_DEFAULTS = "Ray Serve, defaults"
BENTOML = 'BentoML, workers="cpu_count"'
FLOOR = "floor: raw ASGI + grpc.aio + canned gRPC server"
FLOOR_ON_OURS = "floor gateway + our model server"
OURS_UNIX = "covertype, gateway to model server on a Unix socket"
DIRECT_GRPC_CALLS = 3000
PEERS = {"ray-tuned": RAY_TUNED, "ray-defaults": RAY_DEFAULTS, "bentoml": BENTOML}
LOW, HIGH = 1, 16
TOLERANCE = 1e-5
# Issue 15's targets, as ratios of ours to tuned Ray Serve's.
MAX_P50_RATIO_C1 = 0.85
MIN_THROUGHPUT_RATIO_C1 = 1.15
MIN_THROUGHPUT_RATIO_C16 = 2.0
# Ray Serve's performance guide: HAProxy as the ingress, and every throughput flag at once.
RAY_TUNING = {"RAY_SERVE_ENABLE_HA_PROXY": "1", "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1"}
RAY_TUNED_MAX_ONGOING_REQUESTS = 100
STARTUP_SECONDS = 240.0
STOP_SECONDS = 60.0  # Ray shuts Serve down, then itself


def _gateway_bench() -> SimpleNamespace:
    """benchmarks/gateway.py's helpers (wrk runs, our stack), without putting it on sys.path."""
    return SimpleNamespace(**runpy.run_path(str(ROOT / "benchmarks" / "gateway.py")))


bench = _gateway_bench()


def _profile_request() -> SimpleNamespace:
    """benchmarks/profile_request.py's helpers (direct gRPC calls and their target)."""
    return SimpleNamespace(**runpy.run_path(str(ROOT / "benchmarks" / "profile_request.py")))


profile = _profile_request()


@dataclass(frozen=True)
class Target:
    """A service under test: where to send requests, and the processes that make it."""

    name: str
    url: str
    pids: tuple[int, ...]


def rss_mib(pids: Sequence[int]) -> float:
    """Resident memory of the processes under `pids`, summed, in MiB."""
    total_kib = 0
    for pid in {p for root in pids for p in bench.process_tree(root)}:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total_kib += int(line.split()[1])
    return total_kib / 1024


def wait_for_prediction(url: str, child: subprocess.Popen, log: Path) -> dict:
    """Post the example until it is answered; fail with the log if the process dies first."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"{child.args[:3]} exited:\n{log.read_text()[-3000:]}")
        try:
            return bench.predict_once(url)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(1.0)
    tail = log.read_text()[-3000:]
    raise SystemExit(f"{url} not answering after {STARTUP_SECONDS:.0f}s:\n{tail}")


def peer_env() -> dict[str, str]:
    """What every peer process needs: the repository and the peer apps importable."""
    return {"PYTHONPATH": f"{ROOT}{os.pathsep}{PEERS_DIR}", "PYTHONUNBUFFERED": "1"}


def start_ray(
    stack: ExitStack, work: Path, version_dir: Path, tuned: bool
) -> tuple[str, subprocess.Popen]:
    """A local Ray with Serve running benchmarks/peers/ray_app.py; its URL and driver."""
    name = "ray-tuned" if tuned else "ray-defaults"
    port = bench.free_port()
    env = peer_env()
    command = [
        str(PEERS_PYTHON), str(PEERS_DIR / "ray_app.py"),
        f"--saved-model={version_dir}", f"--port={port}",
        f"--dashboard-port={bench.free_port()}", f"--temp-dir={work / name}",
    ]  # fmt: skip
    if tuned:
        env.update(RAY_TUNING)
        # HAProxy's admin socket path (its folder, plus a node id Ray adds) has at most 97
        # characters: a short folder of its own.
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="hap-"))
        env.update(_haproxy_isolation(Path(folder)))
        command.append(f"--max-ongoing-requests={RAY_TUNED_MAX_ONGOING_REQUESTS}")
    child = stack.enter_context(bench.process(name, command, work, env, PEERS_DIR, STOP_SECONDS))
    return f"http://{defaults.HOST}:{port}/v1/predict", child


def _haproxy_isolation(folder: Path) -> dict[str, str]:
    """Not tuning: HAProxy's files and side ports away from their shared defaults
    (/tmp/haproxy-serve, 8404, 9101, 8500, 30000+), so parallel runs do not collide."""
    http_base, grpc_base = bench.free_port(), bench.free_port()
    return {
        "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": str(folder / "haproxy.cfg"),
        "RAY_SERVE_HAPROXY_SOCKET_PATH": str(folder / "admin.sock"),
        "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": str(folder),
        "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": str(folder / "server-state"),
        "RAY_SERVE_HAPROXY_METRICS_PORT": str(bench.free_port()),
        "RAY_SERVE_HAPROXY_STATS_PORT": str(bench.free_port()),
        "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT": str(bench.free_port()),
        "RAY_SERVE_FALLBACK_PROXY_GRPC_PORT": str(bench.free_port()),
        "RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT": str(http_base),
        "RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT": str(http_base + 50),
        "RAY_SERVE_DIRECT_INGRESS_MIN_GRPC_PORT": str(grpc_base),
        "RAY_SERVE_DIRECT_INGRESS_MAX_GRPC_PORT": str(grpc_base + 50),
    }


def start_bentoml(stack: ExitStack, work: Path, version_dir: Path) -> tuple[str, subprocess.Popen]:
    """`bentoml serve` of benchmarks/peers/bento_service.py; its URL and root process."""
    port = bench.free_port()
    env = {**peer_env(), "COVERTYPE_SAVED_MODEL": str(version_dir), "BENTOML_HOME": str(work)}
    command = [
        str(PEERS_PYTHON.with_name("bentoml")), "serve", "bento_service:Covertype",
        f"--host={defaults.HOST}", f"--port={port}",
    ]  # fmt: skip
    child = stack.enter_context(
        bench.process("bentoml", command, work, env, PEERS_DIR, STOP_SECONDS)
    )
    return f"http://{defaults.HOST}:{port}/v1/predict", child


def wait_for_grpc(port: int, child: subprocess.Popen, log: Path) -> None:
    """Wait until the gRPC server on `port` accepts a connection; fail with its log if it
    dies or takes longer than `STARTUP_SECONDS`."""
    deadline = time.monotonic() + STARTUP_SECONDS
    with grpc.insecure_channel(f"{defaults.HOST}:{port}") as channel:
        ready = grpc.channel_ready_future(channel)
        while True:
            if child.poll() is not None:
                raise SystemExit(f"{child.args[:3]} exited:\n{log.read_text()[-3000:]}")
            try:
                ready.result(timeout=1.0)
                return
            except grpc.FutureTimeoutError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"port {port} not ready:\n{log.read_text()[-3000:]}") from None


def canned_exchange(grpc_port: int, model_name: str) -> tuple[bytes, bytes]:
    """The PredictRequest our gateway sends for the example, and our model server's
    PredictResponse to it, both serialized."""
    rows = validate_instances([EXAMPLE_OBSERVATION])
    request = build_request(rows, model_name, VersionChoice()).SerializeToString()
    with grpc.insecure_channel(f"{defaults.HOST}:{grpc_port}") as channel:
        return request, channel.unary_unary(PREDICT_METHOD)(request, timeout=10)


def start_floor(
    stack: ExitStack, work: Path, ours: "bench.Stack", model_name: str
) -> tuple[list[Target], int]:
    """The floor gateway in front of the canned gRPC server and in front of our model
    server, answering; the two targets, and the canned server's port."""
    request, response = canned_exchange(ours.grpc_port, model_name)
    answer = bench.post_example(ours.predict_url)
    files = {"request": request, "response": response, "answer": answer}
    for name, content in files.items():
        (work / f"floor-{name}.bin").write_bytes(content)
    server_port = bench.free_port()
    server = stack.enter_context(
        bench.process(
            "floor-server",
            [
                sys.executable, "-P", str(PEERS_DIR / "floor_server.py"),
                f"--port={server_port}", f"--response={work / 'floor-response.bin'}",
            ],
            work,
        )
    )  # fmt: skip
    wait_for_grpc(server_port, server, work / "floor-server.log")
    backends = {
        FLOOR: (server_port, server.pid),
        FLOOR_ON_OURS: (ours.grpc_port, ours.model_server.pid),
    }
    targets = []
    for index, (name, (grpc_port, backend_pid)) in enumerate(backends.items()):
        port = bench.free_port()
        log_name = f"floor-gateway-{index}"
        gateway = stack.enter_context(
            bench.process(
                log_name,
                [
                    sys.executable, "-P", str(PEERS_DIR / "floor_gateway.py"),
                    f"--port={port}", f"--target={defaults.HOST}:{grpc_port}",
                    f"--request={work / 'floor-request.bin'}",
                    f"--answer={work / 'floor-answer.bin'}",
                ],
                work,
            )
        )  # fmt: skip
        url = f"http://{defaults.HOST}:{port}/v1/predict"
        wait_for_prediction(url, gateway, work / f"{log_name}.log")
        if bench.post_example(url) != bench.post_example(ours.predict_url):
            raise SystemExit(f"{name} does not answer what {OURS} answers")
        targets.append(Target(name, url, (gateway.pid, backend_pid)))
    return targets, server_port


def first_prediction(answer: dict) -> tuple[int, dict[str, float]]:
    prediction = answer["predictions"][0]
    return prediction["cover_type"], prediction["probabilities"]


def check_agreement(answers: Mapping[str, dict]) -> None:
    """Every target gives our class and our probabilities (to `TOLERANCE`), or exit."""
    cover_type, probabilities = first_prediction(answers[OURS])
    for name, answer in answers.items():
        their_class, theirs = first_prediction(answer)
        agrees = their_class == cover_type and theirs.keys() == probabilities.keys()
        if not agrees or any(
            not math.isclose(theirs[k], p, rel_tol=0, abs_tol=TOLERANCE)
            for k, p in probabilities.items()
        ):
            raise SystemExit(f"{name} disagrees with {OURS}: {answer} vs {answers[OURS]}")


def ratio_line(label: str, ours: float, ray: float, target: float, at_most: bool) -> str:
    ratio = ours / ray
    met = ratio <= target if at_most else ratio >= target
    sign = "<=" if at_most else ">="
    verdict = "MET" if met else "NOT MET"
    return f"{label}: {ratio:.2f}x tuned Ray Serve (target {sign} {target}x): {verdict}"


def report(medians: Sequence, memory: Mapping[str, float], rounds: int, seconds: int) -> None:
    """The table, ratios against tuned Ray Serve, and issue 15's targets."""
    by = {(m.target, m.connections): m for m in medians}
    names = list(memory)
    print(f"median of {rounds} alternating rounds of {seconds} s, {os.cpu_count()} CPUs")
    print(
        f"| target | c={LOW} req/s | c={LOW} p50 ms | c={HIGH} req/s | RSS at rest MiB "
        f"| c={LOW} p50 / tuned Ray | c={LOW} req/s / tuned Ray | c={HIGH} req/s / tuned Ray |"
    )
    print("|---|---|---|---|---|---|---|---|")
    ray_low, ray_high = by.get((RAY_TUNED, LOW)), by.get((RAY_TUNED, HIGH))
    for name in names:
        low, high = by[(name, LOW)], by[(name, HIGH)]
        ratios = "| - | - | - |"
        if ray_low is not None and ray_high is not None:
            ratios = (
                f"| {low.p50_ms / ray_low.p50_ms:.2f}x "
                f"| {low.requests_per_second / ray_low.requests_per_second:.2f}x "
                f"| {high.requests_per_second / ray_high.requests_per_second:.2f}x |"
            )
        print(
            f"| {name} | {low.requests_per_second:,.0f} | {low.p50_ms:.2f} "
            f"| {high.requests_per_second:,.0f} | {memory[name]:,.0f} {ratios}"
        )
    if ray_low is None or ray_high is None:
        return
    for ours in (OURS, OURS_UNIX):
        if (ours, LOW) not in by:
            continue
        ours_low, ours_high = by[(ours, LOW)], by[(ours, HIGH)]
        print(f"issue 15's targets, {ours} against tuned Ray Serve:")
        print(
            ratio_line(f"c={LOW} p50", ours_low.p50_ms, ray_low.p50_ms, MAX_P50_RATIO_C1, True),
            ratio_line(
                f"c={LOW} req/s",
                ours_low.requests_per_second,
                ray_low.requests_per_second,
                MIN_THROUGHPUT_RATIO_C1,
                False,
            ),
            ratio_line(
                f"c={HIGH} req/s",
                ours_high.requests_per_second,
                ray_high.requests_per_second,
                MIN_THROUGHPUT_RATIO_C16,
                False,
            ),
            sep="\n",
        )


def report_floor(medians: Sequence) -> None:
    """The floor targets against issue 15's concurrency-1 targets."""
    by = {(m.target, m.connections): m for m in medians}
    ray_low = by.get((RAY_TUNED, LOW))
    if ray_low is not None:
        print("issue 15's concurrency-1 targets, the floor against tuned Ray Serve:")
        for name in (FLOOR, FLOOR_ON_OURS):
            low = by[(name, LOW)]
            p50 = ratio_line("c=1 p50", low.p50_ms, ray_low.p50_ms, MAX_P50_RATIO_C1, True)
            throughput = ratio_line(
                "c=1 req/s",
                low.requests_per_second,
                ray_low.requests_per_second,
                MIN_THROUGHPUT_RATIO_C1,
                False,
            )
            print(f"{name}: {p50}; {throughput}")


def report_direct(direct_ms: Mapping[str, Sequence[float]]) -> None:
    """One-row gRPC latency straight to each server, against issue 15's target."""
    for server, latencies in direct_ms.items():
        p50 = statistics.median(latencies)
        met = "MET" if p50 <= profile.GRPC_P50_TARGET_MS else "NOT MET"
        print(
            f"gRPC Predict, one row, straight to {server} ({len(latencies)} calls): "
            f"p50 {p50:.3f} ms, p99 {statistics.quantiles(latencies, n=100)[98]:.3f} ms "
            f"(target p50 <= {profile.GRPC_P50_TARGET_MS} ms: {met})"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench.add_run_arguments(parser)
    parser.add_argument(
        "--peers",
        default=",".join(PEERS),
        help=f"comma-separated, of {', '.join(PEERS)} (default: all)",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also the floor: our two-hop shape with no work in it (see above)",
    )
    parser.add_argument(
        "--unix-socket",
        action="store_true",
        help="also our stack with the gateway calling the model server on a Unix socket",
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk not found: install it with `apt-get install -y wrk`", file=sys.stderr)
        return 2
    if not PEERS_PYTHON.exists():
        print(f"{PEERS_PYTHON} not found: run `make bench-peers`", file=sys.stderr)
        return 2
    peers = [p for p in args.peers.split(",") if p]
    unknown = sorted(set(peers) - PEERS.keys())
    if unknown:
        parser.error(f"unknown peers {unknown}; choose from {sorted(PEERS)}")

    with tempfile.TemporaryDirectory(prefix="covertype-peers-") as scratch, ExitStack() as stack:
        work = Path(scratch)
        models_dir = args.models_dir
        if models_dir is None:
            models_dir = work / "models"
            bench.tiny_model(models_dir)
        version_dir = bench.latest_version(models_dir.resolve(), args.model_name)

        ours = bench.start_stack(stack, "ours", work, models_dir, args.model_name)
        targets = [Target(OURS, ours.predict_url, (ours.model_server.pid, ours.gateway.pid))]
        answers = {OURS: bench.predict_once(ours.predict_url)}
        grpc_socket = work / "model-server.sock"
        if args.unix_socket:
            on_socket = bench.start_stack(
                stack, "ours-unix", work, models_dir, args.model_name, grpc_socket=grpc_socket
            )
            pids = (on_socket.model_server.pid, on_socket.gateway.pid)
            targets.append(Target(OURS_UNIX, on_socket.predict_url, pids))
            answers[OURS_UNIX] = bench.predict_once(on_socket.predict_url)
        # One at a time: two Ray clusters starting together on two busy cores can miss
        # Ray's node registration timeout.
        for peer in peers:
            if peer == "bentoml":
                url, child = start_bentoml(stack, work, version_dir)
            else:
                url, child = start_ray(stack, work, version_dir, tuned=peer == "ray-tuned")
            answers[PEERS[peer]] = wait_for_prediction(url, child, work / f"{peer}.log")
            targets.append(Target(PEERS[peer], url, (child.pid,)))
        check_agreement(answers)
        print(f"every target answers class {first_prediction(answers[OURS])[0]}", file=sys.stderr)
        direct_ms: dict[str, list[float]] = {}
        if args.floor:
            floor_targets, floor_port = start_floor(stack, work, ours, args.model_name)
            targets.extend(floor_targets)

        time.sleep(5)  # at rest: start-up work (compiles, first requests) has settled
        memory = {t.name: rss_mib(t.pids) for t in targets}
        direct_targets = {}
        if args.floor:
            direct_targets["the canned server"] = f"{defaults.HOST}:{floor_port}"
        if args.floor or args.unix_socket:
            direct_targets["our model server"] = f"{defaults.HOST}:{ours.grpc_port}"
        if args.unix_socket:
            direct_targets["our model server on its Unix socket"] = f"unix:{grpc_socket}"
        for server, target in direct_targets.items():
            direct_ms[server] = profile.direct_predict_ms(
                target, args.model_name, DIRECT_GRPC_CALLS
            )

        script = work / "post.lua"
        script.write_text(bench.WRK_SCRIPT.format(body=json.dumps(EXAMPLE_OBSERVATION)))
        runs = [
            bench.run_wrk(t.name, t.url, script, connections, args.seconds, args.warmup)
            for _ in range(args.rounds)
            for connections in (LOW, HIGH)
            for t in targets
        ]

    medians = [
        bench.median_run([r for r in runs if (r.target, r.connections) == (t.name, c)])
        for c in (LOW, HIGH)
        for t in targets
    ]
    report(medians, memory, args.rounds, args.seconds)
    figures = {
        "cpus": os.cpu_count(),
        "rss_mib": memory,
        "medians": [asdict(r) for r in medians],
        "runs": [asdict(r) for r in runs],
    }
    if args.floor:
        report_floor(medians)
    if direct_ms:
        report_direct(direct_ms)
        figures["grpc_direct_p50_ms"] = {s: statistics.median(v) for s, v in direct_ms.items()}
    print(json.dumps(figures))
    return 1 if any(r.errors for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
