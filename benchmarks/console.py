"""What an open console costs the gateway, and what its page weighs.

Starts, on free loopback ports, a model server, a gateway (logging predictions) and
`covertype console` reading both, then measures the gateway's one-instance latency with
wrk at concurrency 1 in rounds that alternate three conditions:

- closed: nobody reads the console;
- polled: a client asks the console's endpoints exactly as the page does (live panels
  every `--refresh-seconds`, drift and history every 10 s), with no browser;
- browser: headless Chromium (Debian's) shows the console page, refreshing by itself,
  on the same two cores as the servers (the worst case: an operator's browser usually
  runs on another machine).

Also prints the page weight: bytes transferred on a first load with an empty cache
(Chromium's encoded lengths, headers included) and the number of requests.

    .venv/bin/python -P benchmarks/console.py [--models-dir models] [--rounds 3] [--seconds 10]
"""

import argparse
import json
import os
import runpy
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests/support: the Chromium flags the browser tests use

from covertype import defaults  # noqa: E402
from covertype.schema import EXAMPLE_OBSERVATION  # noqa: E402
from tests.support.browser import CHROMIUM_ARGS  # noqa: E402

# What console.js asks for, and how often (seconds; None: every refresh).
PAGE_POLLS = {
    "/console/api/versions": None,
    "/console/api/traffic": None,
    "/console/api/drift": 10.0,
    "/console/api/history": 10.0,
}
CONDITIONS = ("closed", "polled", "browser")


def _gateway_bench() -> SimpleNamespace:
    """benchmarks/gateway.py's helpers (wrk runs, our stack), without putting it on sys.path."""
    return SimpleNamespace(**runpy.run_path(str(ROOT / "benchmarks" / "gateway.py")))


bench = _gateway_bench()


@contextmanager
def polling(console_url: str, refresh_seconds: float) -> Iterator[None]:
    """Ask the console's endpoints on the page's schedule until the block ends."""
    stop = threading.Event()

    def loop() -> None:
        last: dict[str, float] = {}
        while not stop.is_set():
            now = time.monotonic()
            for path, every in PAGE_POLLS.items():
                if every is None or now - last.get(path, -every) >= every:
                    with urllib.request.urlopen(console_url + path, timeout=10) as answer:
                        answer.read()
                    last[path] = now
            stop.wait(refresh_seconds)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@contextmanager
def browser_page(playwright: Any, console_url: str) -> Iterator[dict[str, int]]:
    """Headless Chromium showing the console; yields the first load's weight."""
    executable = os.environ.get("COVERTYPE_CHROMIUM") or shutil.which("chromium")
    if executable is None:
        raise SystemExit("chromium not found: `apt-get install -y chromium` (or `make test`)")
    browser = playwright.chromium.launch(executable_path=executable, args=list(CHROMIUM_ARGS))
    try:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        session = context.new_cdp_session(page)
        session.send("Network.enable")
        weight = {"bytes": 0, "requests": 0}

        def finished(event: dict[str, Any]) -> None:
            weight["bytes"] += int(event["encodedDataLength"])
            weight["requests"] += 1

        session.on("Network.loadingFinished", finished)
        page.goto(f"{console_url}/console")
        page.wait_for_selector("body[data-loaded=true]", timeout=30_000)
        page.wait_for_load_state("networkidle")
        first_load = dict(weight)
        yield first_load
    finally:
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench.add_run_arguments(parser)
    parser.add_argument("--refresh-seconds", type=float, default=2.0)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk not found: install it with `apt-get install -y wrk`", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory(prefix="covertype-console-bench-") as scratch,
        ExitStack() as stack,
    ):
        work = Path(scratch)
        models_dir = args.models_dir
        if models_dir is None:
            models_dir = work / "models"
            bench.tiny_model(models_dir)
        log = work / "predictions.jsonl"
        served = bench.start_stack(
            stack, "gateway", work, models_dir, args.model_name, (), [f"--prediction-log={log}"]
        )
        console_port = bench.free_port()
        console = stack.enter_context(
            bench.process(
                "console",
                [
                    sys.executable, "-m", "covertype.cli", "console",
                    f"--port={console_port}", f"--gateway={served.gateway_url}",
                    f"--registry={models_dir.resolve()}", f"--prediction-log={log}",
                    f"--model-name={args.model_name}",
                    f"--refresh-seconds={args.refresh_seconds}",
                ],
                work,
            )
        )  # fmt: skip
        console_url = f"http://{defaults.HOST}:{console_port}"
        bench.wait_for(f"{console_url}/healthz", console, work / "console.log")
        bench.predict_once(served.predict_url)

        script = work / "post.lua"
        script.write_text(bench.WRK_SCRIPT.format(body=json.dumps(EXAMPLE_OBSERVATION)))
        playwright = stack.enter_context(sync_playwright())
        runs, weights = [], []
        for _ in range(args.rounds):
            for condition in CONDITIONS:
                with ExitStack() as reading:
                    if condition == "polled":
                        reading.enter_context(polling(console_url, args.refresh_seconds))
                    elif condition == "browser":
                        weights.append(reading.enter_context(browser_page(playwright, console_url)))
                    runs.append(
                        bench.run_wrk(
                            condition, served.predict_url, script, 1, args.seconds, args.warmup
                        )
                    )

    medians = {c: bench.median_run([r for r in runs if r.target == c]) for c in CONDITIONS}
    closed = medians["closed"]
    print(f"median of {args.rounds} alternating rounds of {args.seconds} s, wrk c=1, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    header = f"{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'p50 vs closed':>15}{'errors':>8}"
    print(f"{'console':<10}{header}")
    for name, r in medians.items():
        print(
            f"{name:<10}{r.requests_per_second:>9.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}"
            f"{r.p50_ms / closed.p50_ms:>14.2f}x{r.errors:>8}"
        )
    first = weights[0]
    print(
        f"page weight, first load (empty cache): {first['bytes']:,} bytes in "
        f"{first['requests']} requests (median of {len(weights)} loads: "
        f"{statistics.median(w['bytes'] for w in weights):,.0f} bytes)"
    )
    print(json.dumps({"runs": [asdict(r) for r in runs], "page_weights": weights}))
    return 1 if any(r.errors for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
