"""Deferred bookkeeping: kept in order, never lost, and done while a model call is in flight."""

import asyncio
import logging
import threading
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest

from gateway.deferred import DeferredWork
from gateway.model_client import ModelServerClient
from protos.slim import predict_pb2

SERVICE = "tensorflow.serving.PredictionService"


def test_deferred_calls_wait_for_run_pending_and_keep_their_order() -> None:
    async def scenario() -> tuple[list[int], list[int]]:
        done: list[int] = []
        work = DeferredWork(max_delay_seconds=60)
        for number in range(3):
            work.defer(done.append, number)
        before = list(done)
        work.run_pending()
        work.run_pending()  # nothing left: no call runs twice
        return before, done

    before, done = asyncio.run(scenario())
    assert before == []
    assert done == [0, 1, 2]


def test_deferred_calls_run_by_themselves_after_the_delay() -> None:
    async def scenario() -> list[str]:
        done: list[str] = []
        work = DeferredWork(max_delay_seconds=0.01)
        work.defer(done.append, "logged")
        for _ in range(200):
            if done:
                break
            await asyncio.sleep(0.01)
        return done

    assert asyncio.run(scenario()) == ["logged"]


def test_a_failing_call_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> None:
        raise RuntimeError("metrics backend gone")

    async def scenario() -> list[str]:
        done: list[str] = []
        work = DeferredWork(max_delay_seconds=60)
        work.defer(done.append, "first")
        work.defer(broken)
        work.defer(done.append, "last")
        work.run_pending()
        return done

    with caplog.at_level(logging.ERROR, logger="covertype.gateway"):
        assert asyncio.run(scenario()) == ["first", "last"]
    [failure] = [r for r in caplog.records if r.message == "deferred bookkeeping failed"]
    assert failure.exc_info is not None and "metrics backend gone" in str(failure.exc_info[1])


@pytest.fixture
def held_server() -> Iterator[tuple[str, threading.Event]]:
    """A Predict server that answers only once `released` is set (at most 5 s)."""
    released = threading.Event()

    def predict(request: predict_pb2.PredictRequest, context: grpc.ServicerContext) -> bytes:
        if not released.wait(5):
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "never released")
        response = predict_pb2.PredictResponse()
        response.model_spec.name = request.model_spec.name
        return response.SerializeToString()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    handler = grpc.unary_unary_rpc_method_handler(
        predict, request_deserializer=predict_pb2.PredictRequest.FromString
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE, {"Predict": handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", released
    finally:
        server.stop(grace=None)


def test_the_client_does_deferred_work_while_its_call_is_in_flight(
    held_server: tuple[str, threading.Event],
) -> None:
    """The server holds the call until the client's `while_waiting` releases it: the
    call can only succeed if that work runs before its answer is awaited."""
    target, released = held_server

    async def call() -> predict_pb2.PredictResponse:
        client = ModelServerClient(target, timeout_seconds=10, while_waiting=released.set)
        try:
            request = predict_pb2.PredictRequest()
            request.model_spec.name = "covertype"
            return await client.predict(request, ["req-1"])
        finally:
            await client.close()

    assert asyncio.run(call()).model_spec.name == "covertype"
