"""Request decoding: small bodies inline, large ones in a low-priority worker process."""

import asyncio
import json
import multiprocessing
import os
import signal

import pytest

from covertype.schema import EXAMPLE_OBSERVATION
from gateway.decoding import (
    WORKER_NICENESS,
    DecoderBusy,
    DecoderSettings,
    RequestDecoder,
    decode_instances,
)
from gateway.observations import InvalidInstances
from gateway.payload import MalformedJson

LARGE = 4096


def worker_pid() -> int:
    """The decoding worker: this process' only multiprocessing child."""
    (worker,) = multiprocessing.active_children()
    assert worker.pid is not None
    return worker.pid


def body(instances: list[dict[str, object]]) -> bytes:
    return json.dumps({"instances": instances}).encode()


def test_large_bodies_decode_in_the_worker_to_the_same_rows() -> None:
    large = body([EXAMPLE_OBSERVATION] * 40)
    assert len(large) >= LARGE

    async def decode() -> tuple[list[list[float]], int]:
        decoder = RequestDecoder(DecoderSettings(max_instances=100, large_body_bytes=LARGE))
        try:
            rows = await decoder.decode(large)
            return rows, os.getpriority(os.PRIO_PROCESS, worker_pid())
        finally:
            decoder.close()

    rows, niceness = asyncio.run(decode())
    assert rows == decode_instances(large, 100)
    assert niceness >= os.getpriority(os.PRIO_PROCESS, 0) + WORKER_NICENESS


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (body([{**EXAMPLE_OBSERVATION, "Elevation": -1}] * 40), InvalidInstances),
        (b"[" * 10_000, MalformedJson),
        (b'{"instances": [' + b'{"a": 1, "a": 2},' * 400 + b"{}]}", MalformedJson),
    ],
)
def test_errors_from_the_worker_are_the_same_as_inline(payload: bytes, error: type) -> None:
    async def decode() -> None:
        decoder = RequestDecoder(DecoderSettings(max_instances=1000, large_body_bytes=LARGE))
        try:
            await decoder.decode(payload)
        finally:
            decoder.close()

    with pytest.raises(error) as in_worker:
        asyncio.run(decode())
    with pytest.raises(error) as inline:
        decode_instances(payload, 1000)
    assert str(in_worker.value) == str(inline.value)
    if error is InvalidInstances:
        assert in_worker.value.problems == inline.value.problems
        assert in_worker.value.count == inline.value.count == 40


def test_more_large_bodies_than_allowed_at_once_are_refused() -> None:
    large = body([EXAMPLE_OBSERVATION] * 40)

    async def scenario() -> None:
        decoder = RequestDecoder(
            DecoderSettings(max_instances=100, large_body_bytes=LARGE, max_large_in_progress=1)
        )
        try:
            await decoder.decode(large)  # starts the worker
            worker = worker_pid()
            os.kill(worker, signal.SIGSTOP)  # the next large body stays in progress
            try:
                first = asyncio.ensure_future(decoder.decode(large))
                await asyncio.sleep(0)
                with pytest.raises(DecoderBusy):
                    await decoder.decode(large)
                # Small bodies never wait for the worker.
                assert len(await decoder.decode(json.dumps(EXAMPLE_OBSERVATION).encode())) == 1
            finally:
                os.kill(worker, signal.SIGCONT)
            assert len(await first) == 40
        finally:
            decoder.close()

    asyncio.run(scenario())
