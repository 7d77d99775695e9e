"""A project HTTP service run as a subprocess for tests, and the wait for its `/healthz`.

`tests.support.gateway` and `tests.support.console` start theirs with these.
"""

import subprocess
import time
from pathlib import Path
from typing import Self

import httpx

from covertype.processes import stop_process

STOP_TIMEOUT_SECONDS = 10.0


class ServiceStartError(RuntimeError):
    """The service exited or did not answer in time; the message carries its log."""


class RunningService:
    """A service subprocess writing its log to a file; a context manager that stops it."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
        self.process = process
        self.url = url
        self.log_path = log_path

    def log(self) -> str:
        """Everything the service has written so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """Terminate (SIGTERM, then SIGKILL after a grace period) and wait."""
        stop_process(self.process, STOP_TIMEOUT_SECONDS)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def wait_until_healthy(
    service: RunningService,
    name: str,
    timeout: float,
    error: type[ServiceStartError] = ServiceStartError,
) -> None:
    """Poll `url/healthz` until it answers 200; stop the service and raise `error`
    (with its log) if it exits first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if service.process.poll() is not None:
            code = service.process.returncode
            raise error(f"{name} exited with {code}:\n{service.log()}")
        try:
            if httpx.get(f"{service.url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            service.stop()
            raise error(f"{name} not healthy after {timeout:.0f}s:\n{service.log()}")
        time.sleep(0.1)
