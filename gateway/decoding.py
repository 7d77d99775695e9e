"""Request bodies to validated rows, large ones in a worker process of low priority.

Decoding is CPU work that holds the event loop: JSON parsing, then validation of
every field. A small body costs well under a millisecond and is decoded inline. A
large one may cost a hundred milliseconds or more (a 3 MB body of objects with
hundreds of unknown keys; a thousand one-hot observations), during which every other
client of this gateway would wait. Bodies of at least `large_body_bytes` are decoded
in a separate process instead, which runs only on CPU time nobody else wants (Linux's
SCHED_IDLE; nice +19 elsewhere), so that large requests compete with each other, not
with the small ones. Nice +10 was not enough: with the worker busy, six small clients
lost a third of their throughput on two cores (SCHED_IDLE: under a tenth). At most
`max_large_in_progress` bodies are accepted at once, and a body not decoded within
`timeout_seconds` (the CPU stayed busy) is answered like a full lane: 503 with
Retry-After. The worker is replaced every `WORKER_MAX_TASKS` bodies, which gives back
the memory large documents fragment, and after a crash.
"""

import asyncio
import contextlib
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from gateway.observations import validate_instances
from gateway.payload import parse_body

WORKER_NICENESS = 19  # where SCHED_IDLE does not exist
WORKER_MAX_TASKS = 200


class DecoderBusy(Exception):
    """Too many large bodies are being decoded already."""


@dataclass(frozen=True)
class DecoderSettings:
    """When a body counts as large, how many large ones may be in progress, and for how long."""

    max_instances: int
    timeout_seconds: float
    large_body_bytes: int = 64 * 1024
    max_large_in_progress: int = 8


def decode_instances(body: bytes, max_instances: int) -> list[list[float]]:
    """The body's observations as matrix rows; `MalformedJson` or `InvalidInstances`."""
    return validate_instances(parse_body(body, max_instances))


def _start_worker() -> None:
    """In the worker: idle priority; stopped by the gateway, never by a group signal."""
    if hasattr(os, "SCHED_IDLE"):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    else:
        os.nice(WORKER_NICENESS)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


class RequestDecoder:
    """Decodes request bodies: small ones inline, large ones in the worker process."""

    def __init__(self, settings: DecoderSettings) -> None:
        self.settings = settings
        self._large = asyncio.Semaphore(settings.max_large_in_progress)
        self._pool: ProcessPoolExecutor | None = None

    async def decode(self, body: bytes) -> list[list[float]]:
        """Rows of the body's observations; raises `MalformedJson`, `InvalidInstances`
        (from `gateway.payload` and `gateway.observations`) or `DecoderBusy`."""
        if len(body) < self.settings.large_body_bytes:
            return decode_instances(body, self.settings.max_instances)
        if self._large.locked():
            raise DecoderBusy(
                f"{self.settings.max_large_in_progress} large requests are being decoded"
            )
        await self._large.acquire()
        loop = asyncio.get_running_loop()
        decoding = loop.run_in_executor(
            self._worker(), decode_instances, body, self.settings.max_instances
        )
        # The lane's slot is held until the worker is done with the body, answered or not.
        decoding.add_done_callback(self._release_slot)
        try:
            return await asyncio.wait_for(asyncio.shield(decoding), self.settings.timeout_seconds)
        except TimeoutError:
            seconds = self.settings.timeout_seconds
            raise DecoderBusy(f"the body was not decoded within {seconds:g} s") from None
        except BrokenProcessPool:
            self._pool = None  # the worker died (killed, out of memory): a new one next time
            raise DecoderBusy("the decoding worker stopped; retry") from None

    def _release_slot(self, decoding: "asyncio.Future[list[list[float]]]") -> None:
        """The worker is done with a body: free its slot (its outcome may have no reader)."""
        self._large.release()
        if not decoding.cancelled():
            decoding.exception()  # seen, so asyncio does not log an abandoned body's error

    def _worker(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                max_tasks_per_child=WORKER_MAX_TASKS,
            )
        return self._pool

    def close(self) -> None:
        """Stop the worker (if one was started)."""
        if self._pool is not None:
            with contextlib.suppress(Exception):
                self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
