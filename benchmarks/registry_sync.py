"""Registry -> sync -> model server, measured: how fast a publish, a label move and a
rollback reach two replicas under load, and what an idle sync costs.

    .venv/bin/python -P benchmarks/registry_sync.py [--idle-seconds 60]

Starts a real S3 server (rclone serve s3), two model servers each with its own
`covertype sync --poll-seconds 1`, and a gateway over both with clients looping through
it; prints figures, asserts nothing.
"""

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests/support: the same process helpers the tests use

from covertype.defaults import MODEL_NAME  # noqa: E402
from covertype.schema import EXAMPLE_OBSERVATION  # noqa: E402
from registry.uri import open_registry  # noqa: E402
from tests.support.gateway import start_gateway  # noqa: E402
from tests.support.load import LoopingClients  # noqa: E402
from tests.support.model_server import start_model_server  # noqa: E402
from tests.support.s3 import start_s3_server  # noqa: E402
from tests.support.sync import RunningSync, start_sync  # noqa: E402

TRAIN_CSV = ROOT.parent / "shared" / "data" / "train.csv"
SERVER_FLAGS = ["--file_system_poll_wait_seconds=1", "--model_config_file_poll_wait_seconds=1"]
SYNC_FLAGS = ["--label-delay-seconds=3", "--removal-grace-seconds=5"]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def seconds_until(check: Callable[[], bool], timeout: float = 120.0) -> float:
    """Seconds until `check()` holds, polled every 20 ms."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"not reached in {timeout:g} s")
        time.sleep(0.02)
    return time.monotonic() - started


def available(rest_url: str) -> list[int]:
    """The AVAILABLE versions a model server reports over REST."""
    import httpx

    status = httpx.get(f"{rest_url}/v1/models/{MODEL_NAME}", timeout=5).json()
    return sorted(
        int(v["version"]) for v in status["model_version_status"] if v["state"] == "AVAILABLE"
    )


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def main(argv: Sequence[str] | None = None) -> int:
    """Run the scenario and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    from trainer.api import TrainOptions, build_candidate

    with tempfile.TemporaryDirectory(prefix="registry-bench-") as scratch:
        work = Path(scratch)
        options = TrainOptions(data=TRAIN_CSV, epochs=1, sample=2000, quiet=True)
        candidate = build_candidate(options, work / "candidate")
        with start_s3_server(work / "s3") as s3:
            os.environ.update(s3.environment())
            uri = s3.create_bucket("models") + "/registry"
            registry = open_registry(uri)
            registry.publish(candidate.path, MODEL_NAME)
            syncs: list[RunningSync] = []
            servers = []
            try:
                for name in ("a", "b"):
                    served = work / name
                    sync = start_sync(
                        registry=uri,
                        models_dir=served,
                        env=s3.environment(),
                        poll_seconds=1,
                        extra_args=SYNC_FLAGS,
                    )
                    syncs.append(sync)
                    sync.wait_ready()
                    servers.append(
                        start_model_server(
                            model_config_file=served / "models.config", extra_args=SERVER_FLAGS
                        )
                    )
                targets = "ipv4:" + ",".join(s.grpc_target for s in servers)
                gateway_flags = ["--max-concurrent-calls", "2"]
                with (
                    start_gateway(targets, extra_args=gateway_flags) as gateway,
                    LoopingClients(gateway.url, EXAMPLE_OBSERVATION, clients=2) as load,
                ):
                    load.wait_for_answers(50)
                    started = time.monotonic()
                    registry.publish(candidate.path, MODEL_NAME)
                    publish_seconds = seconds_until(
                        lambda: all(2 in available(s.rest_url) for s in servers)
                    )
                    print(
                        f"publish -> version 2 AVAILABLE on both replicas: {publish_seconds:.2f} s"
                    )

                    registry.set_label(MODEL_NAME, "stable", 2)
                    label_seconds = seconds_until(
                        lambda: all(
                            "value: 2" in (work / n / "models.config").read_text() for n in "ab"
                        )
                    )
                    print(f"label stable -> 2 written by both syncs: {label_seconds:.2f} s")

                    registry.set_label(MODEL_NAME, "stable", 1)
                    registry.retire(MODEL_NAME, 2, reason="benchmark rollback")
                    rollback_seconds = seconds_until(
                        lambda: all(available(s.rest_url) == [1] for s in servers)
                    )
                    print(
                        f"rollback (retire 2) -> version 1 alone on both: {rollback_seconds:.2f} s"
                    )
                    time.sleep(6)  # past the removal grace, still under load
                    failures = load.failures(since=started)
                    sent = len([a for a in load.answers if a.sent >= started])
                    print(
                        f"requests through the gateway meanwhile: {sent}, failed: {len(failures)}"
                    )
                    for failure in failures[:5]:
                        print(f"  failed: {failure.status} {failure.detail[:120]}")

                before_cpu = [cpu_seconds(s.process.pid) for s in syncs]
                before_requests = [s.metric("covertype_sync_store_requests_total") for s in syncs]
                time.sleep(args.idle_seconds)
                for n, sync in enumerate(syncs):
                    cpu = cpu_seconds(sync.process.pid) - before_cpu[n]
                    requests = sync.metric("covertype_sync_store_requests_total")
                    per_minute = (requests - before_requests[n]) * 60 / args.idle_seconds
                    per_hour = cpu * 3600 / args.idle_seconds
                    print(
                        f"idle sync {n + 1} (poll 1 s): {per_hour:.1f} CPU s per hour, "
                        f"{per_minute:.0f} store requests per minute"
                    )
            finally:
                for process in [*servers, *syncs]:
                    process.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
