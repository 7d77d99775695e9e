"""Opportunistic batching: concurrent prediction requests share one Predict call.

Each call to the model server costs a fixed amount of work on both sides (an RPC, a
session run) whatever its number of rows. The batcher keeps at most
`max_concurrent_calls` Predict calls in flight per version choice; a request that
arrives while they are all busy waits for the next free slot and goes out in the same
call as the other requests that queued meanwhile (up to `max_batch_instances` rows).
It never waits on purpose: a lone request is sent at once, from its own task (no
hand-off to another one), so single-request latency is unchanged, and under load the
calls grow instead of queueing one by one.

One call in flight (the default) gave the most requests/s on the 2-core reference
machine, where the gateway, the model server and the load generator share the cores;
a model server with cores to spare can take more concurrent calls.

One client's rows never fail another's: rows are validated (finite, inside their
domains) before they are merged; if a shared call still fails with an error that
its rows could have caused, each request is sent again on its own, and rows whose
probabilities are not finite fail only the request that sent them.
"""

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import grpc

from gateway.model_client import BackendError, ModelServerClient
from gateway.predictions import (
    PredictOutcome,
    UnscorableInstances,
    VersionChoice,
    build_request,
    read_response,
)

# Failures that some rows of a call could have caused (others, like UNAVAILABLE, would
# fail each request alone just the same).
_ROW_ERRORS = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
    }
)

# Rows per Predict call, after each call.
BatchObserver = Callable[[int], None]


@dataclass
class _Pending:
    """One HTTP request's rows, waiting for its share of a Predict call's answer."""

    rows: Sequence[Sequence[float]]
    request_id: str
    deadline: float  # event loop time
    future: asyncio.Future[PredictOutcome]


@dataclass
class _Lane:
    """The queue and in-flight count of one version choice."""

    queue: deque[_Pending] = field(default_factory=deque)
    in_flight: int = 0


class PredictBatcher:
    """Sends validated rows to the model server, merging requests that queue behind busy calls."""

    def __init__(
        self,
        client: ModelServerClient,
        model_name: str,
        max_concurrent_calls: int,
        max_batch_instances: int,
        observer: BatchObserver | None = None,
    ) -> None:
        self._client = client
        self._model_name = model_name
        self._max_concurrent_calls = max_concurrent_calls
        self._max_batch_instances = max_batch_instances
        self._observer = observer
        self._lanes: dict[VersionChoice, _Lane] = {}
        self._calls: set[asyncio.Task[None]] = set()

    async def predict(
        self,
        rows: Sequence[Sequence[float]],
        choice: VersionChoice,
        request_id: str,
        timeout_seconds: float,
    ) -> PredictOutcome:
        """The predictions for `rows`, in order; raises `BackendError`, `BadModelResponse`
        or `UnscorableInstances` (from `gateway.model_client` and `gateway.predictions`).

        The deadline (`timeout_seconds` from now) covers the wait for a free call too.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_seconds
        lane = self._lanes.setdefault(choice, _Lane())
        if not lane.queue and lane.in_flight < self._max_concurrent_calls:
            return await self._predict_unqueued(choice, lane, rows, request_id, deadline)
        pending = _Pending(rows, request_id, deadline, loop.create_future())
        lane.queue.append(pending)
        self._dispatch(choice, lane)
        return await pending.future

    async def _predict_unqueued(
        self,
        choice: VersionChoice,
        lane: _Lane,
        rows: Sequence[Sequence[float]],
        request_id: str,
        deadline: float,
    ) -> PredictOutcome:
        """A request nobody queues with: its own call, made from its own task (no hand-off)."""
        lane.in_flight += 1
        try:
            outcome = await self._predict(choice, rows, [request_id], deadline)
        finally:
            lane.in_flight -= 1
            self._dispatch(choice, lane)
        if outcome.unscorable:
            raise UnscorableInstances(outcome.unscorable)
        return outcome

    async def close(self) -> None:
        """Wait for the calls in flight to finish."""
        if self._calls:
            await asyncio.gather(*self._calls, return_exceptions=True)

    def _dispatch(self, choice: VersionChoice, lane: _Lane) -> None:
        while lane.queue and lane.in_flight < self._max_concurrent_calls:
            batch = self._take(lane.queue)
            if not batch:
                return
            lane.in_flight += 1
            call = asyncio.get_running_loop().create_task(self._call(choice, lane, batch))
            self._calls.add(call)
            call.add_done_callback(self._calls.discard)

    def _take(self, queue: deque[_Pending]) -> list[_Pending]:
        """The oldest waiting requests that fit in one call (always at least one, if any)."""
        batch: list[_Pending] = []
        rows = 0
        while queue:
            head = queue[0]
            if head.future.done():  # its client went away
                queue.popleft()
                continue
            if batch and rows + len(head.rows) > self._max_batch_instances:
                break
            batch.append(queue.popleft())
            rows += len(head.rows)
        return batch

    async def _call(self, choice: VersionChoice, lane: _Lane, batch: list[_Pending]) -> None:
        try:
            try:
                outcome = await self._predict_batch(choice, batch)
            except BackendError as error:
                if len(batch) == 1 or error.code not in _ROW_ERRORS:
                    raise
                # One request's rows may have failed the shared call: each on its own.
                await asyncio.gather(*(self._alone(choice, pending) for pending in batch))
                return
        except asyncio.CancelledError:  # the gateway is shutting down
            for pending in batch:
                pending.future.cancel()
            raise
        except Exception as error:  # BackendError, BadModelResponse, or a bug: to every caller
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(error)
            return
        finally:
            lane.in_flight -= 1
            self._dispatch(choice, lane)
        start = 0
        for pending in batch:
            end = start + len(pending.rows)
            _settle(pending, outcome.rows(start, end))
            start = end

    async def _alone(self, choice: VersionChoice, pending: _Pending) -> None:
        """Send one request's rows in a call of their own and settle it."""
        try:
            outcome = await self._predict_batch(choice, [pending])
        except Exception as error:
            if not pending.future.done():
                pending.future.set_exception(error)
            return
        _settle(pending, outcome)

    async def _predict_batch(self, choice: VersionChoice, batch: list[_Pending]) -> PredictOutcome:
        """One Predict call carrying every row of `batch`, within the earliest deadline."""
        rows = [row for pending in batch for row in pending.rows]
        deadline = min(p.deadline for p in batch)
        return await self._predict(choice, rows, [p.request_id for p in batch], deadline)

    async def _predict(
        self,
        choice: VersionChoice,
        rows: Sequence[Sequence[float]],
        request_ids: list[str],
        deadline: float,
    ) -> PredictOutcome:
        """One Predict call carrying `rows`, within `deadline` (event loop time)."""
        if self._observer is not None:
            self._observer(len(rows))
        request = build_request(rows, self._model_name, choice)
        remaining = deadline - asyncio.get_running_loop().time()
        response = await self._client.predict(request, request_ids, max(remaining, 0.0))
        return read_response(response, len(rows), self._model_name)


def _settle(pending: _Pending, outcome: PredictOutcome) -> None:
    """Give a request its outcome: its predictions, or the rows the model could not score."""
    if pending.future.done():  # its client went away
        return
    if outcome.unscorable:
        pending.future.set_exception(UnscorableInstances(outcome.unscorable))
    else:
        pending.future.set_result(outcome)
