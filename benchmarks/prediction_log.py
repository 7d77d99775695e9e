"""What the prediction log costs on the request path: the gateway with and without it.

Starts one model server and two identical gateways in front of it, one writing the
prediction log (`--prediction-log`), and drives them with `wrk` (see
benchmarks/gateway.py, whose helpers this reuses) in alternating rounds at
concurrency 1 and 16, so that load from elsewhere on the machine falls on both
alike. Prints each gateway's median round and the difference, the CPU time per
request of each gateway (with its writer process: /proc, so Linux only; steadier
than requests/s on a shared machine), then checks that the log holds one line per
answered request.

    .venv/bin/python -P benchmarks/prediction_log.py                      # trains a tiny model
    .venv/bin/python -P benchmarks/prediction_log.py --models-dir models  # or uses a version
"""

import argparse
import json
import os
import runpy
import shutil
import sys
import tempfile
import urllib.request
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

from covertype import defaults
from covertype.schema import EXAMPLE_OBSERVATION
from monitoring.report import with_rotated

ROOT = Path(__file__).resolve().parent.parent


def _gateway_bench() -> SimpleNamespace:
    """benchmarks/gateway.py's functions (wrk runs, medians); a script, not an importable module."""
    return SimpleNamespace(**runpy.run_path(str(ROOT / "benchmarks" / "gateway.py")))


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (the log writer), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += (task / "children").read_text().split()
    total = 0
    for process in [pid, *map(int, children)]:
        fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / tick


def predict_requests(base_url: str) -> int:
    """Predict requests the gateway has answered, from its Prometheus metrics."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("covertype_gateway_requests_total{") and '"/v1/predict"' in line
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, help="default: train a tiny model in a temp dir")
    parser.add_argument("--model-name", default=defaults.MODEL_NAME)
    parser.add_argument("--seconds", type=int, default=10, help="measured seconds per round")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up seconds before each round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per target")
    parser.add_argument("--connections", default="1,16", help="comma-separated concurrency levels")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk not found: install it with `apt-get install -y wrk`", file=sys.stderr)
        return 2
    bench = _gateway_bench()
    levels = [int(c) for c in args.connections.split(",")]
    python = sys.executable

    with tempfile.TemporaryDirectory(prefix="covertype-bench-") as scratch, ExitStack() as stack:
        work = Path(scratch)
        models_dir = args.models_dir
        if models_dir is None:
            models_dir = work / "models"
            bench.tiny_model(models_dir)
        grpc_port = bench.free_port()
        server = stack.enter_context(
            bench.process(
                "model_server",
                [
                    python, "-m", "covertype.cli", "serve",
                    f"--port={grpc_port}", "--rest_api_port=0",
                    f"--model_name={args.model_name}",
                    f"--model_base_path={models_dir.resolve() / args.model_name}",
                ],
                work,
            )
        )  # fmt: skip
        log_path = work / "predictions.jsonl"
        variants = {
            "prediction log off": [],
            "prediction log on": ["--prediction-log", str(log_path)],
        }
        targets, pids, bases = {}, {}, {}
        for name, extra in variants.items():
            port = bench.free_port()
            child = stack.enter_context(
                bench.process(
                    name.replace(" ", "_"),
                    [
                        python, "-m", "covertype.cli", "gateway", f"--port={port}",
                        f"--tfserving={defaults.HOST}:{grpc_port}",
                        f"--model-name={args.model_name}", *extra,
                    ],
                    work,
                )
            )  # fmt: skip
            url = f"http://{defaults.HOST}:{port}"
            bench.wait_for(f"{url}/healthz", child, work / f"{name.replace(' ', '_')}.log")
            bench.wait_for(f"{url}/readyz", server, work / "model_server.log")
            targets[name] = f"{url}/v1/predict"
            bench.predict_once(targets[name])
            pids[name], bases[name] = child.pid, url
        start = {name: (cpu_seconds(pids[name]), predict_requests(bases[name])) for name in targets}

        script = work / "post.lua"
        script.write_text(bench.WRK_SCRIPT.format(body=json.dumps(EXAMPLE_OBSERVATION)))
        runs = [
            bench.run_wrk(name, url, script, connections, args.seconds, args.warmup)
            for _ in range(args.rounds)
            for connections in levels
            for name, url in targets.items()
        ]
        cost = {
            name: (cpu_seconds(pids[name]) - start[name][0])
            / (predict_requests(bases[name]) - start[name][1])
            for name in targets
        }
        stack.close()  # stop the gateways: the logging one writes its queue out
        logged = sum(1 for path in with_rotated([log_path]) for _ in path.open())

    medians = {
        (name, connections): bench.median_run(
            [r for r in runs if (r.target, r.connections) == (name, connections)]
        )
        for connections in levels
        for name in targets
    }
    print(f"median of {args.rounds} alternating rounds of {args.seconds} s, {os.cpu_count()} CPUs")
    print(f"{'gateway':<22}{'conc':>5}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for r in medians.values():
        print(
            f"{r.target:<22}{r.connections:>5}{r.requests_per_second:>10.0f}"
            f"{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.errors:>8}"
        )
    for connections in levels:
        off, on = (
            medians[("prediction log off", connections)],
            medians[("prediction log on", connections)],
        )
        change = on.requests_per_second / off.requests_per_second - 1
        print(
            f"concurrency {connections}: with the log {change:+.1%} req/s, "
            f"p50 {on.p50_ms - off.p50_ms:+.2f} ms"
        )
    for name, seconds in cost.items():
        print(f"{name}: {seconds * 1e6:.0f} us of CPU per request (gateway and its writer)")
    # wrk counts the requests of measured rounds; warm-up rounds were answered (and logged) too.
    answered = sum(r.requests for r in runs if r.target == "prediction log on")
    print(f"prediction log: {logged} lines for {answered} measured requests (plus warm-ups)")
    print(
        json.dumps(
            {
                "medians": [asdict(r) for r in medians.values()],
                "cpu_us_per_request": {name: round(c * 1e6, 1) for name, c in cost.items()},
                "logged_lines": logged,
            }
        )
    )
    return 1 if any(r.errors for r in runs) or logged < answered else 0


if __name__ == "__main__":
    sys.exit(main())
