"""The batching session on a small numpy session: merging, splitting, limits, metrics."""

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import grpc
import numpy as np
import pytest

from protos.tfserving_config import batching_pb2
from tfserving.batching.batching_parameters import batching_config
from tfserving.batching.batching_session import BatchingSession, BatchingSessionOptions
from tfserving.batching.shared_batch_scheduler import QueueOptions, SharedBatchScheduler
from tfserving.core.servable_id import ServableId
from tfserving.errors import ServingError, invalid_argument
from tfserving.monitoring import Metrics


class AffineSession:
    """y = 2x + 1 per row, and the row sums; records the batch sizes it ran."""

    def __init__(self, delay: float = 0.0, gate: threading.Event | None = None) -> None:
        self.delay = delay
        self.gate = gate
        self.entered = threading.Event()  # a batch thread is running a batch
        self.batch_sizes: list[int] = []

    def run(
        self,
        signature_name: str,
        inputs: Mapping[str, np.ndarray],
        output_names: Sequence[str],
        timeout_in_ms: int = 0,
    ) -> dict[str, np.ndarray]:
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(10)
        x = inputs["x"]
        if np.isnan(x).any():
            raise invalid_argument("x must not be NaN")
        self.batch_sizes.append(x.shape[0])
        time.sleep(self.delay)
        outputs = {"y": 2 * x + 1, "total": x.sum(axis=1)}
        return {name: outputs[name] for name in output_names}

    def close(self) -> None:
        pass


@pytest.fixture
def scheduler() -> Iterator[SharedBatchScheduler]:
    scheduler = SharedBatchScheduler(num_batch_threads=1, thread_pool_name="test_threads")
    scheduler.start()
    yield scheduler
    scheduler.stop()


def batching(
    wrapped: AffineSession,
    scheduler: SharedBatchScheduler,
    metrics: Metrics,
    **queue: int,
) -> BatchingSession:
    allowed = queue.pop("allowed", None)
    options = BatchingSessionOptions(
        QueueOptions(**queue),
        tuple(allowed) if allowed else (),  # type: ignore[arg-type]
    )
    return BatchingSession(wrapped, ServableId("m", 1), scheduler, options, metrics)


def rows(start: int, count: int) -> np.ndarray:
    return np.arange(start, start + count * 3, dtype=np.float32).reshape(count, 3)


def test_concurrent_runs_are_merged_and_split_back(scheduler: SharedBatchScheduler) -> None:
    wrapped = AffineSession(delay=0.02)
    metrics = Metrics()
    session = batching(wrapped, scheduler, metrics, max_batch_size=64, batch_timeout_micros=5000)
    inputs = [rows(10 * i, 1 + i % 3) for i in range(16)]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda x: session.run("sig", {"x": x}, ["y", "total"]), inputs))
    for x, result in zip(inputs, results, strict=True):
        np.testing.assert_array_equal(result["y"], 2 * x + 1)
        np.testing.assert_array_equal(result["total"], x.sum(axis=1))
    assert sum(wrapped.batch_sizes) == sum(len(x) for x in inputs)
    assert len(wrapped.batch_sizes) < len(inputs)
    page = metrics.exposition().decode()
    assert ":tensorflow:serving:batching_session:input_batch_size_count 16.0" in page
    assert (
        f":tensorflow:serving:batching_session:processed_batch_size_count "
        f"{float(len(wrapped.batch_sizes))}" in page
    )
    assert 'covertype_model_server_batch_size_count{model_name="m",signature_name="sig",' in page


def test_a_task_larger_than_a_batch_is_refused(scheduler: SharedBatchScheduler) -> None:
    session = batching(AffineSession(), scheduler, Metrics(), max_batch_size=4)
    with pytest.raises(ServingError) as raised:
        session.run("sig", {"x": rows(0, 5)}, ["y"])
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "Task size 5 is larger than maximum input batch size 4" in raised.value.message


def test_a_full_queue_answers_unavailable(scheduler: SharedBatchScheduler) -> None:
    """One batch runs (held), one may wait: of two more calls, one waits and one is refused."""
    gate = threading.Event()
    wrapped = AffineSession(gate=gate)
    session = batching(wrapped, scheduler, Metrics(), max_batch_size=1, max_enqueued_batches=1)
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(session.run, "sig", {"x": rows(0, 1)}, ["y"])
        assert wrapped.entered.wait(10), "the batch thread never took the first task"
        later = [pool.submit(session.run, "sig", {"x": rows(3 * i, 1)}, ["y"]) for i in (1, 2)]
        done, _ = wait(later, timeout=10, return_when=FIRST_COMPLETED)
        (refused,) = done  # the other one waits in the queue until the gate opens
        gate.set()
        (queued,) = (future for future in later if future is not refused)
        np.testing.assert_array_equal(first.result()["y"], 2 * rows(0, 1) + 1)
        assert queued.result()["y"].shape == (1, 3)
    with pytest.raises(ServingError) as raised:
        refused.result()
    assert raised.value.code == grpc.StatusCode.UNAVAILABLE
    assert "queue" in raised.value.message and "is full" in raised.value.message


def test_batches_are_padded_to_an_allowed_size(scheduler: SharedBatchScheduler) -> None:
    wrapped = AffineSession()
    session = batching(wrapped, scheduler, Metrics(), max_batch_size=8, allowed=[4, 8])
    result = session.run("sig", {"x": rows(0, 3)}, ["y"])
    assert wrapped.batch_sizes == [4]
    np.testing.assert_array_equal(result["y"], 2 * rows(0, 3) + 1)


def test_tasks_of_different_row_shapes_never_share_a_batch(
    scheduler: SharedBatchScheduler,
) -> None:
    session = batching(AffineSession(delay=0.01), scheduler, Metrics(), batch_timeout_micros=5000)
    narrow = np.ones((2, 3), np.float32)
    wide = np.ones((2, 5), np.float32)
    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(session.run, "sig", {"x": narrow}, ["total"])
        b = pool.submit(session.run, "sig", {"x": wide}, ["total"])
        np.testing.assert_array_equal(a.result()["total"], [3, 3])
        np.testing.assert_array_equal(b.result()["total"], [5, 5])


def test_an_error_reaches_every_task_of_the_batch(scheduler: SharedBatchScheduler) -> None:
    session = batching(AffineSession(), scheduler, Metrics())
    bad = np.full((1, 3), np.nan, np.float32)
    with pytest.raises(ServingError, match="x must not be NaN"):
        session.run("sig", {"x": bad}, ["y"])


def test_inputs_need_a_common_batch_dimension(scheduler: SharedBatchScheduler) -> None:
    session = batching(AffineSession(), scheduler, Metrics())
    with pytest.raises(ServingError, match="at least one dimension"):
        session.run("sig", {"x": np.float32(1.0)}, ["y"])
    with pytest.raises(ServingError, match="equal 0th-dimension size"):
        session.run("sig", {"x": rows(0, 2), "z": rows(0, 3)}, ["y"])


def test_a_closed_session_still_answers_unbatched(scheduler: SharedBatchScheduler) -> None:
    wrapped = AffineSession()
    session = batching(wrapped, scheduler, Metrics())
    session.run("sig", {"x": rows(0, 1)}, ["y"])
    session.close()
    np.testing.assert_array_equal(
        session.run("sig", {"x": rows(0, 2)}, ["y"])["y"], 2 * rows(0, 2) + 1
    )


def test_a_task_waits_for_its_batch_at_most_its_timeout(scheduler: SharedBatchScheduler) -> None:
    gate = threading.Event()
    session = batching(AffineSession(gate=gate), scheduler, Metrics())
    with pytest.raises(ServingError) as raised:
        session.run("sig", {"x": rows(0, 1)}, ["y"], timeout_in_ms=50)
    gate.set()  # the batch itself still runs
    assert raised.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert raised.value.message == "Timed out after 50 ms waiting for the batch to run"


def test_batching_parameters_defaults_and_checks() -> None:
    default = batching_config(batching_pb2.BatchingParameters())
    assert default.session.queue == QueueOptions(1000, 0, 10)
    assert default.thread_pool_name == "batch_threads"
    with pytest.raises(ValueError, match="must be equal to max_batch_size"):
        batching_config(
            batching_pb2.BatchingParameters(max_batch_size={"value": 8}, allowed_batch_sizes=[2, 4])
        )
    with pytest.raises(ValueError, match="pad_variable_length_inputs"):
        batching_config(batching_pb2.BatchingParameters(pad_variable_length_inputs=True))
