"""Request decoding: small bodies inline, large ones in an idle-priority worker process."""

import asyncio
import json
import multiprocessing
import os
import signal

import pytest

from covertype.schema import EXAMPLE_OBSERVATION
from gateway.decoding import (
    DecoderBusy,
    DecoderSettings,
    RequestDecoder,
    decode_instances,
)
from gateway.observations import InvalidInstances
from gateway.payload import MalformedJson

LARGE = 4096
TIMEOUT_SECONDS = 60.0  # an idle-priority worker on a busy test machine can be slow


def settings(**changes: float) -> DecoderSettings:
    return DecoderSettings(
        **{"max_instances": 100, "timeout_seconds": TIMEOUT_SECONDS, "large_body_bytes": LARGE}
        | changes
    )


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
        decoder = RequestDecoder(settings())
        try:
            rows = await decoder.decode(large)
            return rows, os.sched_getscheduler(worker_pid())
        finally:
            decoder.close()

    rows, policy = asyncio.run(decode())
    assert rows == decode_instances(large, 100)
    assert policy == os.SCHED_IDLE


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
        decoder = RequestDecoder(settings(max_instances=1000))
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
        decoder = RequestDecoder(settings(max_large_in_progress=1))
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


def test_a_body_not_decoded_in_time_is_refused_and_keeps_its_slot_until_done() -> None:
    large = body([EXAMPLE_OBSERVATION] * 40)

    async def scenario() -> None:
        decoder = RequestDecoder(settings(max_large_in_progress=1))
        try:
            await decoder.decode(large)  # starts the worker
            worker = worker_pid()
            decoder.settings = settings(max_large_in_progress=1, timeout_seconds=0.5)
            os.kill(worker, signal.SIGSTOP)  # no CPU for the worker, as on a saturated machine
            try:
                with pytest.raises(DecoderBusy, match=r"not decoded within 0\.5 s"):
                    await decoder.decode(large)
                # The worker still holds that body: the lane stays full until it is done.
                with pytest.raises(DecoderBusy, match="being decoded"):
                    await decoder.decode(large)
            finally:
                os.kill(worker, signal.SIGCONT)
            decoder.settings = settings(max_large_in_progress=1)
            deadline = asyncio.get_running_loop().time() + TIMEOUT_SECONDS
            while True:
                try:
                    assert len(await decoder.decode(large)) == 40
                    break
                except DecoderBusy:
                    assert asyncio.get_running_loop().time() < deadline
                    await asyncio.sleep(0.05)
        finally:
            decoder.close()

    asyncio.run(scenario())
