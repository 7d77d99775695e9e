"""A session that merges concurrent runs into batches, like TF Serving's BatchingSession.

Runs with the same signature, input names, dtypes, per-row shapes and outputs
share a queue. A batch concatenates its tasks' inputs along dimension 0 (padded
up to the next allowed batch size by repeating the first row of the last task),
runs once on the wrapped session, and splits every output back by task size.
Callers get exactly the rows they would have got alone.
"""

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tfserving.batching.shared_batch_scheduler import (
    BatchQueue,
    BatchTask,
    QueueClosedError,
    QueueOptions,
    SharedBatchScheduler,
)
from tfserving.core.servable_id import ServableId
from tfserving.errors import (
    ServingError,
    deadline_exceeded,
    failed_precondition,
    internal,
    invalid_argument,
)
from tfserving.monitoring import Metrics
from tfserving.servables.saved_model_bundle import Session


@dataclass(frozen=True)
class BatchingSessionOptions:
    """Queue limits plus the allowed batch sizes (empty: any size)."""

    queue: QueueOptions
    allowed_batch_sizes: tuple[int, ...] = ()


def padded_size(size: int, allowed_batch_sizes: Sequence[int]) -> int:
    """The smallest allowed batch size that holds `size` rows (`size` if none are set)."""
    for allowed in allowed_batch_sizes:
        if allowed >= size:
            return allowed
    return size


def batch_size_of(inputs: Mapping[str, np.ndarray]) -> int:
    """The common 0th dimension of the inputs (TF Serving's errors when there is none)."""
    sizes = set()
    for array in inputs.values():
        if array.ndim == 0:
            raise invalid_argument("Batching Run() input tensors must have at least one dimension")
        sizes.add(array.shape[0])
    if len(sizes) != 1:
        raise invalid_argument("Batching Run() input tensors must have equal 0th-dimension size")
    return sizes.pop()


class BatchingSession:
    """Wraps a session; concurrent `run` calls are merged into batches."""

    def __init__(
        self,
        wrapped: Session,
        servable_id: ServableId,
        scheduler: SharedBatchScheduler,
        options: BatchingSessionOptions,
        metrics: Metrics,
    ) -> None:
        self._wrapped = wrapped
        self._id = servable_id
        self._scheduler = scheduler
        self._options = options
        self._metrics = metrics
        self._queues: dict[tuple[object, ...], BatchQueue] = {}
        self._lock = threading.Lock()

    def run(
        self,
        signature_name: str,
        inputs: Mapping[str, np.ndarray],
        output_names: Sequence[str],
        timeout_in_ms: int = 0,
    ) -> dict[str, np.ndarray]:
        """Run as part of a batch; blocks until the batch has run (or the timeout passes)."""
        size = batch_size_of(inputs)
        task = BatchTask(size=size, inputs=inputs)
        self._metrics.observe_task(size)
        try:
            self._queue(signature_name, inputs, output_names).schedule(task)
        except QueueClosedError:
            return self._wrapped.run(signature_name, inputs, output_names, timeout_in_ms)
        if not task.done.wait(timeout_in_ms / 1000 if timeout_in_ms > 0 else None):
            raise deadline_exceeded(
                f"Timed out after {timeout_in_ms} ms waiting for the batch to run"
            )
        if task.error is not None:
            raise task.error
        assert task.result is not None
        return task.result

    def close(self) -> None:
        """Stop accepting tasks; queued ones still run, later callers run unbatched."""
        with self._lock:
            for queue in self._queues.values():
                queue.close()

    def _queue(
        self, signature_name: str, inputs: Mapping[str, np.ndarray], output_names: Sequence[str]
    ) -> BatchQueue:
        key = (
            signature_name,
            tuple(output_names),
            tuple(sorted((n, a.dtype.num, a.shape[1:]) for n, a in inputs.items())),
        )
        queue = self._queues.get(key)
        if queue is None:
            with self._lock:
                queue = self._queues.get(key)
                if queue is None:
                    names = tuple(output_names)
                    queue = self._scheduler.add_queue(
                        self._options.queue,
                        lambda tasks: self._process(signature_name, names, tasks),
                    )
                    self._queues[key] = queue
        return queue

    def _process(
        self, signature_name: str, output_names: Sequence[str], tasks: list[BatchTask]
    ) -> None:
        started = time.monotonic()
        rows = sum(task.size for task in tasks)
        total = padded_size(rows, self._options.allowed_batch_sizes)
        try:
            merged = self._merge(tasks, total - rows)
            outputs = self._wrapped.run(signature_name, merged, output_names)
            for name, array in outputs.items():
                if array.ndim == 0 or array.shape[0] != total:
                    raise failed_precondition(
                        f"Batched output tensor '{name}' does not have the batch's 0th "
                        f"dimension size {total}"
                    )
            offset = 0
            for task in tasks:
                task.result = {n: a[offset : offset + task.size] for n, a in outputs.items()}
                offset += task.size
        except ServingError as error:
            for task in tasks:
                task.error = error
        except Exception as error:
            for task in tasks:
                task.error = internal(f"batched run failed: {type(error).__name__}: {error}")
        finally:
            for task in tasks:
                task.done.set()
        self._metrics.observe_batch(
            self._id.name,
            self._id.version,
            signature_name,
            total,
            [(started - task.enqueued) * 1e6 for task in tasks],
            self._scheduler.thread_pool_name,
        )

    @staticmethod
    def _merge(tasks: list[BatchTask], padding: int) -> Mapping[str, np.ndarray]:
        if len(tasks) == 1 and padding == 0:
            return tasks[0].inputs
        merged = {}
        for name in tasks[0].inputs:
            parts = [task.inputs[name] for task in tasks]
            if padding:
                parts.append(np.repeat(parts[-1][:1], padding, axis=0))
            merged[name] = np.concatenate(parts)
        return merged
