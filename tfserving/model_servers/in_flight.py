"""The requests a server is answering right now, so that a drain can wait for them.

Every unary gRPC call (until its answer is sent) and every REST request is counted
while it runs. A drain
waits on two conditions: "quiet" (no request has started for a while: clients have
moved to other replicas) and "idle" (none is running any more).
"""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class InFlightRequests:
    """A count of running requests and the time the last one started."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._running = 0
        self._last_start = time.monotonic()

    def begin(self) -> Callable[[], None]:
        """Count one request as running; call the returned function (once) when it ends."""
        with self._changed:
            self._running += 1
            self._last_start = time.monotonic()
        ended = threading.Event()

        def end() -> None:
            if ended.is_set():
                return
            ended.set()
            with self._changed:
                self._running -= 1
                if self._running == 0:
                    self._changed.notify_all()

        return end

    @contextmanager
    def track(self) -> Iterator[None]:
        """Count the enclosed block as one running request."""
        end = self.begin()
        try:
            yield
        finally:
            end()

    @property
    def running(self) -> int:
        """How many requests are running."""
        with self._changed:
            return self._running

    def wait_until_quiet(self, quiet_seconds: float, limit_seconds: float) -> bool:
        """Block until no request has started for `quiet_seconds`; True if that happened
        within `limit_seconds`."""
        deadline = time.monotonic() + limit_seconds
        with self._changed:
            while True:
                now = time.monotonic()
                quiet_at = self._last_start + quiet_seconds
                if now >= quiet_at:
                    return True
                if now >= deadline:
                    return False
                self._changed.wait(min(quiet_at, deadline) - now)

    def wait_until_idle(self, limit_seconds: float) -> bool:
        """Block until no request is running; True if that happened within `limit_seconds`."""
        deadline = time.monotonic() + limit_seconds
        with self._changed:
            while self._running:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True
