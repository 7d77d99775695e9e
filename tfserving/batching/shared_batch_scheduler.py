"""A batch scheduler shared by every batching queue, with a fixed pool of batch threads.

Tasks (one request each, with a size in rows) go into a queue; the queue fills an
open batch until adding a task would exceed `max_batch_size`, then closes it and
opens another. A batch thread takes a closed batch, or an open one that has
waited `batch_timeout_micros` (0: as soon as a thread is free), and hands it to
the queue's `process_batch` callback. A queue holding `max_enqueued_batches`
batches refuses new tasks with UNAVAILABLE instead of letting them wait.
"""

import collections
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tfserving.errors import ServingError, internal, invalid_argument, unavailable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueOptions:
    """Per-queue limits (TF Serving's defaults)."""

    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    max_enqueued_batches: int = 10


class Completion:
    """A one-shot signal from the batch thread to the waiting request thread.

    A lock held from creation and released once: cheaper than a threading.Event,
    which matters because every request creates one.
    """

    __slots__ = ("_lock", "done")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self.done = False

    def set(self) -> None:
        """Wake the waiter (only the first call counts)."""
        if not self.done:
            self.done = True
            self._lock.release()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until set(), or at most `timeout` seconds; True if it was set."""
        return self._lock.acquire(timeout=-1 if timeout is None else timeout)


@dataclass
class BatchTask:
    """One request waiting to be batched; the batch thread sets `result` or `error`."""

    size: int
    inputs: Mapping[str, Any]
    enqueued: float = field(default_factory=time.monotonic)
    done: Completion = field(default_factory=Completion)
    result: dict[str, Any] | None = None
    error: ServingError | None = None


@dataclass
class _Batch:
    created: float
    tasks: list[BatchTask] = field(default_factory=list)
    size: int = 0


class QueueClosedError(Exception):
    """The queue's servable is being unloaded; the caller should run the task itself."""


class BatchQueue:
    """One queue of tasks that can share a batch. Mutated under the scheduler's lock."""

    def __init__(
        self,
        scheduler: "SharedBatchScheduler",
        options: QueueOptions,
        process_batch: Callable[[list[BatchTask]], None],
    ) -> None:
        self._scheduler = scheduler
        self.options = options
        self.process_batch = process_batch
        self.open: _Batch | None = None
        self.full: collections.deque[_Batch] = collections.deque()
        self.closing = False

    def schedule(self, task: BatchTask) -> None:
        """Enqueue a task; INVALID_ARGUMENT if too large, UNAVAILABLE if the queue is full."""
        limit = self.options.max_batch_size
        if task.size > limit:
            raise invalid_argument(
                f"Task size {task.size} is larger than maximum input batch size {limit}"
            )
        with self._scheduler.changed:
            if self.closing:
                raise QueueClosedError
            # Batch threads need waking only when a batch is ready or a new one starts
            # its timeout; a task joining an open batch changes neither.
            wake = False
            if self.open is not None and self.open.size + task.size > limit:
                self.full.append(self.open)
                self.open = None
                wake = True
            if self.open is None:
                if len(self.full) + 1 > self.options.max_enqueued_batches:
                    raise unavailable(
                        "The batch scheduling queue to which this task was submitted is full"
                    )
                self.open = _Batch(created=time.monotonic())
                wake = True
            self.open.tasks.append(task)
            self.open.size += task.size
            if self.open.size >= limit:
                self.full.append(self.open)
                self.open = None
                wake = True
            if wake:
                self._scheduler.changed.notify()

    def close(self) -> None:
        """Accept no more tasks; those already queued still run."""
        with self._scheduler.changed:
            self.closing = True
            self._scheduler.changed.notify_all()

    def take_ready(self, now: float) -> _Batch | None:
        """A batch ready to run: a full one, or the open one once due (or closing)."""
        if self.full:
            return self.full.popleft()
        if self.open is not None and (self.closing or now >= self._due()):
            batch, self.open = self.open, None
            return batch
        return None

    def due_in(self, now: float) -> float | None:
        """Seconds until the open batch is due, None without one."""
        return None if self.open is None else max(self._due() - now, 0.0)

    def _due(self) -> float:
        assert self.open is not None
        return self.open.created + self.options.batch_timeout_micros / 1e6

    @property
    def empty(self) -> bool:
        """No task waiting."""
        return self.open is None and not self.full


class SharedBatchScheduler:
    """Runs batches from every queue on `num_batch_threads` threads, round robin."""

    def __init__(self, num_batch_threads: int, thread_pool_name: str) -> None:
        self.thread_pool_name = thread_pool_name
        self.changed = threading.Condition()
        self._queues: list[BatchQueue] = []
        self._next = 0
        self._stopped = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{thread_pool_name}-{i}", daemon=True)
            for i in range(max(num_batch_threads, 1))
        ]

    def add_queue(
        self, options: QueueOptions, process_batch: Callable[[list[BatchTask]], None]
    ) -> BatchQueue:
        """A new queue whose batches go to `process_batch`."""
        queue = BatchQueue(self, options, process_batch)
        with self.changed:
            self._queues.append(queue)
        return queue

    def start(self) -> None:
        """Start the batch threads."""
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop the threads; tasks still queued fail with UNAVAILABLE."""
        with self.changed:
            self._stopped = True
            for queue in self._queues:
                queue.closing = True
                while (batch := queue.take_ready(float("inf"))) is not None:
                    _fail(batch.tasks, unavailable("The model server is shutting down"))
            self.changed.notify_all()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=5)

    def _work(self) -> None:
        while True:
            with self.changed:
                while True:
                    if self._stopped:
                        return
                    picked = self._pick()
                    if picked is not None:
                        break
                    self.changed.wait(self._wait_seconds())
            queue, batch = picked
            try:
                queue.process_batch(batch.tasks)
            except Exception:
                logger.exception("batch processing failed")
                _fail(batch.tasks, internal("batch processing failed"))

    def _pick(self) -> tuple[BatchQueue, _Batch] | None:
        """The next ready batch, visiting queues round robin (call with the lock held)."""
        now = time.monotonic()
        count = len(self._queues)
        for offset in range(count):
            index = (self._next + offset) % count
            queue = self._queues[index]
            batch = queue.take_ready(now)
            if batch is not None:
                self._next = index + 1
                return queue, batch
        self._queues = [q for q in self._queues if not (q.closing and q.empty)]
        return None

    def _wait_seconds(self) -> float | None:
        """How long until the earliest open batch is due (None: until notified)."""
        now = time.monotonic()
        waits = [w for w in (q.due_in(now) for q in self._queues) if w is not None]
        return min(waits) if waits else None


def _fail(tasks: list[BatchTask], error: ServingError) -> None:
    for task in tasks:
        if not task.done.done:
            task.error = error
            task.done.set()
