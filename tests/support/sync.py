"""Start `covertype sync` as a subprocess with its metrics on a free port.

with start_sync(registry="s3://models/r", models_dir=tmp_path / "served", env=env) as sync:
    sync.wait_ready()
"""

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self

import httpx

from covertype.processes import stop_process
from tests.support.ports import free_port


class RunningSync:
    """A sync subprocess; a context manager that stops it on exit."""

    def __init__(self, process: subprocess.Popen[bytes], metrics_url: str, log_path: Path) -> None:
        self.process = process
        self.metrics_url = metrics_url
        self.log_path = log_path

    def log(self) -> str:
        """Everything the sync has logged so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def get(self, path: str) -> httpx.Response | None:
        """GET a path of the metrics endpoint; None while it does not answer."""
        try:
            return httpx.get(self.metrics_url + path, timeout=2)
        except httpx.HTTPError:
            return None

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until /readyz answers 200 (a first complete sync)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"sync exited with {self.process.returncode}:\n{self.log()}")
            response = self.get("/readyz")
            if response is not None and response.status_code == 200:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"sync not ready after {timeout:g} s:\n{self.log()}")
            time.sleep(0.1)

    def metric(self, name: str) -> float:
        """The sum of a metric's samples (0 when absent)."""
        response = self.get("/metrics")
        assert response is not None, self.log()
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in response.text.splitlines()
            if line.startswith(name) and not line.startswith("#")
        )

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after a grace period; return the exit code."""
        return stop_process(self.process, 15)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def sync_command(
    registry: str, models_dir: Path, metrics_port: int, extra_args: Sequence[str] = ()
) -> list[str]:
    """The `covertype sync` command line start_sync runs."""
    return [
        sys.executable,
        "-m",
        "covertype.cli",
        "sync",
        "--registry",
        registry,
        "--models-dir",
        str(models_dir),
        "--model-name",
        "covertype",
        "--metrics-port",
        str(metrics_port),
        *extra_args,
    ]


def start_sync(
    *,
    registry: str,
    models_dir: Path,
    env: Mapping[str, str],
    poll_seconds: float = 0.2,
    extra_args: Sequence[str] = (),
) -> RunningSync:
    """Start a sync polling every `poll_seconds` (labels and removals without delay)."""
    port = free_port()
    args = [
        "--poll-seconds",
        str(poll_seconds),
        "--label-delay-seconds=0",
        "--removal-grace-seconds=0",
        *extra_args,
    ]
    with tempfile.NamedTemporaryFile(prefix="sync-", suffix=".log", delete=False) as log_file:
        process = subprocess.Popen(
            sync_command(registry, models_dir, port, args),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
        )
    return RunningSync(process, f"http://127.0.0.1:{port}", Path(log_file.name))
