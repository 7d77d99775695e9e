"""Readiness of one gateway process: ready once the model server has served, then stays so.

A gateway is ready to take traffic as soon as the model server has shown it an
AVAILABLE version of its model. After that, readiness no longer depends on the
model server: a blip there (a restart, one replica draining) would otherwise mark
every gateway unready at once, and clients would get refused connections instead of
the gateway's 503 with `Retry-After`. The live model state is at `GET /v1/models`.
"""

import time
from dataclasses import dataclass


@dataclass
class Readiness:
    """When this gateway first saw an AVAILABLE version (None: not yet)."""

    ready_since: float | None = None  # Unix time

    @property
    def ready(self) -> bool:
        """True once `mark_ready()` was called."""
        return self.ready_since is not None

    def mark_ready(self) -> None:
        """Record that the model server has an AVAILABLE version (the first call counts)."""
        if self.ready_since is None:
            self.ready_since = time.time()
