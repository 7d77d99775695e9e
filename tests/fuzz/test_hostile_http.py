"""Hostile HTTP clients against the real gateway: huge headers, stalled requests, floods.

No model server is needed: every case here is decided before the gateway calls one.
Raw sockets, because well-behaved HTTP clients cannot misbehave on purpose.
"""

import json
import select
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from covertype.schema import EXAMPLE_OBSERVATION
from tests.support import free_port
from tests.support.gateway import RunningGateway, start_gateway

READ_TIMEOUT_SECONDS = 1.0
MAX_CONNECTIONS = 20
WAIT_SECONDS = 15.0  # how long a test waits for the gateway to act (never reached if it does)


@pytest.fixture(scope="module")
def gateway() -> Iterator[RunningGateway]:
    # No model server listens on this port: the cases below never reach one.
    flags = [
        "--read-timeout-seconds", str(READ_TIMEOUT_SECONDS),
        "--max-connections", str(MAX_CONNECTIONS),
        "--max-header-bytes", "8192",
        "--max-body-bytes", "65536",
    ]  # fmt: skip
    with start_gateway(f"127.0.0.1:{free_port()}", extra_args=flags) as running:
        yield running


def connect(gateway: RunningGateway) -> socket.socket:
    host, port = gateway.url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=WAIT_SECONDS)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the gateway sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def status_and_body(raw: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_oversized_headers_get_431_and_the_connection_is_closed(gateway: RunningGateway) -> None:
    with connect(gateway) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n")
        status, body = status_and_body(read_until_closed(sock))
    assert status == 431
    assert body["error"] == "headers_too_large" and "8192 bytes" in str(body["message"])


def test_a_request_stalled_in_its_headers_gets_408(gateway: RunningGateway) -> None:
    with connect(gateway) as sock:
        sock.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: appl")
        started = time.monotonic()
        status, body = status_and_body(read_until_closed(sock))
    assert status == 408 and body["error"] == "request_timeout"
    assert time.monotonic() - started < WAIT_SECONDS


def test_a_request_stalled_in_its_body_gets_408(gateway: RunningGateway) -> None:
    with connect(gateway) as sock:
        sock.sendall(
            b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n" + b'{"instances": ['
        )
        status, body = status_and_body(read_until_closed(sock))
    assert status == 408 and body["error"] == "request_timeout"


def test_a_connection_that_never_asks_is_closed(gateway: RunningGateway) -> None:
    with connect(gateway) as sock:
        assert read_until_closed(sock) == b""


def test_connections_beyond_the_limit_are_closed_and_the_others_kept() -> None:
    flags = ["--max-connections", str(MAX_CONNECTIONS), "--read-timeout-seconds", "60"]
    with start_gateway(f"127.0.0.1:{free_port()}", extra_args=flags) as limited:
        held = [connect(limited) for _ in range(MAX_CONNECTIONS * 3)]
        try:
            closed = set()
            deadline = time.monotonic() + WAIT_SECONDS
            while len(closed) < MAX_CONNECTIONS * 2 and time.monotonic() < deadline:
                readable, _, _ = select.select([s for s in held if s not in closed], [], [], 0.2)
                closed.update(s for s in readable if s.recv(1) == b"")
            # Exactly those over the limit: the first ones stay open, idle, within their time.
            assert len(closed) == MAX_CONNECTIONS * 2
            assert not select.select([s for s in held if s not in closed], [], [], 0.5)[0]
        finally:
            for sock in held:
                sock.close()
        assert httpx.get(f"{limited.url}/healthz", timeout=WAIT_SECONDS).status_code == 200


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("text/plain", 415),
        ("application/x-www-form-urlencoded", 415),
        ("application/json; charset=latin-1", 415),
        ("application/json; charset=UTF-8", 503),  # accepted: no model server behind it
        ("application/vnd.api+json", 503),
        (None, 503),
    ],
)
def test_only_json_bodies_are_read(
    gateway: RunningGateway, content_type: str | None, status: int
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    body = json.dumps(EXAMPLE_OBSERVATION).encode()
    answer = httpx.post(f"{gateway.url}/v1/predict", content=body, headers=headers, timeout=10)
    assert answer.status_code == status, answer.text
    if status == 415:
        assert answer.json()["error"] == "unsupported_media_type"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("version=9223372036854775808", "version"),
        ("version=-1", "version"),
        ("version=abc", "version"),
        ("label=" + "a" * 65, "label"),
        ("label=no%20spaces", "label"),
        ("version=1&label=stable", "label"),
        ("verison=1", "verison"),
        ("version=1&version=2", "version"),
        ("q" * 100 + "=1", "q" * 37 + "..."),
    ],
)
def test_query_parameters_have_ranges(gateway: RunningGateway, query: str, field: str) -> None:
    answer = httpx.post(f"{gateway.url}/v1/predict?{query}", json=EXAMPLE_OBSERVATION, timeout=10)
    assert answer.status_code == 422, answer.text
    assert [p["field"] for p in answer.json()["problems"]] == [field]


def test_amplification_is_bounded(gateway: RunningGateway) -> None:
    """Many unknown keys: one problem per oversized instance, at most 100 listed."""
    instance = {**EXAMPLE_OBSERVATION, **{f"unknown_{k}": k for k in range(300)}}
    body = json.dumps({"instances": [instance] * 150}).encode()
    assert len(body) < 65536 * 20
    answer = httpx.post(
        f"{gateway.url}/v1/predict",
        content=body,
        headers={"Content-Type": "application/json", "Content-Length": str(len(body))},
        timeout=10,
    )
    # Larger than --max-body-bytes: refused before it is read in full.
    assert answer.status_code == 413
    small = json.dumps({"instances": [instance] * 5}).encode()[:65536]
    assert len(small) < 65536
    answer = httpx.post(
        f"{gateway.url}/v1/predict",
        content=json.dumps({"instances": [instance] * 5}),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 422
    assert answer.json()["problem_count"] == 5
    assert len(answer.content) < 5_000
