"""Error pacing: a client that keeps sending invalid requests gets its error answers slowly.

An invalid request costs the gateway about as much CPU as a valid one (a connection,
parsing, validation, an error body, the access log), but it is answered without a
model call, so a client that sends them in a loop gets answers faster than anyone
and takes a large share of the one event loop: alone, a single such client cut six
good clients' throughput to 0.65x on two cores. Each client address therefore has
an error budget, a token bucket of `burst` error answers refilled at `rate` per
second. Within it nothing changes; past it, each error answer (any 4xx) is held
until the budget has refilled for it, at most `max_delay_seconds`. The answer itself
is unchanged, and successful requests are never held, whatever the address' budget.
"""

from dataclasses import dataclass

MAX_DELAY_SECONDS = 1.0
MAX_CLIENTS = 10_000


@dataclass
class _Budget:
    tokens: float
    updated: float


class ErrorPacer:
    """Per-address token buckets of error answers; `delay` says how long to hold one."""

    def __init__(
        self,
        rate: float,
        burst: int,
        max_delay_seconds: float = MAX_DELAY_SECONDS,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.max_delay_seconds = max_delay_seconds
        self.max_clients = max_clients
        self._budgets: dict[str, _Budget] = {}

    def delay(self, client: str, now: float) -> float:
        """Seconds to hold an error answer to `client` (0 within its budget); spends a token.

        `now` is a monotonic clock in seconds. Addresses are remembered least recently
        used first; past `max_clients` the oldest is forgotten (its budget starts full).
        """
        budget = self._budgets.pop(client, None)
        if budget is None:
            budget = _Budget(float(self.burst), now)
        else:
            refill = (now - budget.updated) * self.rate
            budget.tokens = min(float(self.burst), budget.tokens + refill)
            budget.updated = now
        # Debt is bounded: answers are never held longer than max_delay_seconds.
        budget.tokens = max(budget.tokens - 1.0, -self.rate * self.max_delay_seconds)
        self._budgets[client] = budget
        if len(self._budgets) > self.max_clients:
            del self._budgets[next(iter(self._budgets))]
        return -budget.tokens / self.rate if budget.tokens < 0 else 0.0
