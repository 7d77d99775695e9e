"""Bookkeeping that is not part of an answer, done while the gateway waits for the model server.

After a request is answered the gateway writes its access-log line and records its
metrics. Done at once, that work sits between the answer and the next request of the
same client: on the 2-core reference machine, about 170 us of a 2 ms request to a
model server that does no work (README, "The gateway's third pass"). Deferred, it
runs when the event loop would otherwise sit idle: right after the next call to the
model server has been sent (`ModelServerClient` runs `run_pending` then), or at the
latest `max_delay_seconds` after it was deferred, before `/metrics` is served and at
shutdown. Nothing is dropped and the order is kept; a log line keeps the time its
request ended.
"""

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

DEFAULT_MAX_DELAY_SECONDS = 0.05

_log = logging.getLogger("covertype.gateway")


class DeferredWork:
    """A FIFO of calls to run soon, but not before the current request is answered."""

    def __init__(self, max_delay_seconds: float = DEFAULT_MAX_DELAY_SECONDS) -> None:
        self.max_delay_seconds = max_delay_seconds
        self._pending: deque[tuple[Callable[..., None], tuple[Any, ...]]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def defer(self, function: Callable[..., None], *args: Any) -> None:
        """Call `function(*args)` later, from the running event loop."""
        self._pending.append((function, args))
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.max_delay_seconds, self.run_pending)

    def run_pending(self) -> None:
        """Run every deferred call now, oldest first; a failing one is logged, not raised."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending = self._pending
        while pending:
            function, args = pending.popleft()
            try:
                function(*args)
            except Exception:
                _log.exception("deferred bookkeeping failed")
