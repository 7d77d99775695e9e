"""The HTTP server carrying the REST API and the Prometheus page: Starlette on uvicorn.

It runs in its own thread and event loop, next to the gRPC server in the same
process. Request handling (JSON parsing, TensorFlow) happens in worker threads,
`--rest_api_num_threads` of them, so the event loop only moves bytes. As in TF
Serving's http_server.cc, an OPTIONS request is a CORS preflight (OK if it has an
http(s) Origin) and `--rest_api_enable_cors_support` adds the CORS headers to every
`/v1/` answer. Requests are counted in an `InFlightRequests` so a drain can wait
for them; `stop_accepting()` closes the port and lets running requests finish.

Limits TF Serving's evhttp server does not document but a Python server needs: a body
over `MAX_BODY_BYTES` gets 413 before it is read (JSON costs many times its size in
Python objects); request line plus headers over 64 KiB get 431; a request not received
within 50 s of its first byte (evhttp's read timeout) gets 408; and connections beyond
1,024 are closed at once (`covertype.http_protocol`).
"""

import logging
import re
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from covertype.http_protocol import ConnectionLimits, guarded_protocol
from tfserving.errors import failed_precondition
from tfserving.logs import log_event
from tfserving.model_servers.http_rest_api import (
    JSON_CONTENT_TYPE,
    PATH_PREFIX,
    HttpRestApiHandler,
)
from tfserving.model_servers.in_flight import InFlightRequests
from tfserving.model_servers.json_tensor import error_body
from tfserving.monitoring import CONTENT_TYPE, Metrics

_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
MAX_BODY_BYTES = 32 * 2**20
_log = logging.getLogger(__name__)
_CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, GET",
    "Access-Control-Allow-Headers": "Content-Type",
}
_HTTP_ORIGIN = re.compile(r"https?://")


class HttpServerError(Exception):
    """The HTTP server could not start."""


def create_app(
    handler: HttpRestApiHandler,
    metrics: Metrics,
    prometheus_path: str | None,
    num_threads: int,
    in_flight: InFlightRequests,
    enable_cors_support: bool = False,
) -> Starlette:
    """The ASGI app: `/v1/...` to the REST handler, the metrics path to Prometheus text."""
    cors = _CORS_HEADERS if enable_cors_support else {}

    def answer(method: str, raw_path: str, body: bytes, origin: str) -> Response:
        with in_flight.track():
            if method == "OPTIONS":
                if _HTTP_ORIGIN.search(origin):
                    return Response(b"", headers=cors)
                refused = failed_precondition("Origin header is missing in CORS preflight")
                return Response(b"", status_code=refused.http_status, headers=cors)
            result = handler.process(method, raw_path, body)
            return Response(
                result.body,
                status_code=result.status,
                media_type=JSON_CONTENT_TYPE,
                headers={**result.headers, **cors},
            )

    async def dispatch(request: Request) -> Response:
        path = request.url.path
        if prometheus_path is not None and path == prometheus_path:
            page = await run_in_threadpool(metrics.exposition)
            return Response(page, media_type=CONTENT_TYPE)
        raw_path = request.scope.get("raw_path", path.encode()).decode("latin-1")
        if not PATH_PREFIX.fullmatch(raw_path):
            return PlainTextResponse("Not Found", status_code=404)
        body = await _body_within_limit(request)
        if body is None:
            message = f"the request body is larger than {MAX_BODY_BYTES} bytes"
            return Response(error_body(message), status_code=413, media_type=JSON_CONTENT_TYPE)
        origin = request.headers.get("origin", "")
        return await run_in_threadpool(answer, request.method, raw_path, body, origin)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = max(num_threads, 1)
        yield

    return Starlette(routes=[Route("/{path:path}", dispatch, methods=_METHODS)], lifespan=lifespan)


async def _body_within_limit(request: Request) -> bytes | None:
    """The body, or None as soon as it is known to be over `MAX_BODY_BYTES`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _refusal_body(code: str, message: str) -> bytes:
    """A refusal before the REST API saw the request (431, 408), as TF Serving's errors."""
    log_event(_log, "http_request_refused", logging.WARNING, code=code, message=message)
    return error_body(message)


_CONNECTION_LIMITS = ConnectionLimits(
    max_header_bytes=64 * 1024,
    read_timeout_seconds=50.0,
    max_connections=1024,
    error_body=_refusal_body,
)


class HttpServer:
    """uvicorn serving an app on host:port from a background thread."""

    def __init__(self, app: Starlette, host: str, port: int, grace_seconds: float) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            http=guarded_protocol(_CONNECTION_LIMITS),
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=max(int(grace_seconds), 1),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="rest-api", daemon=True)
        self._address = f"{host}:{port}"

    def start(self, timeout: float = 30.0) -> None:
        """Start serving; raise HttpServerError if the port cannot be opened."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise HttpServerError(f"Failed to start HTTP Server at {self._address}")
            time.sleep(0.01)

    def stop_accepting(self) -> None:
        """Close the port; requests running finish (uvicorn's graceful shutdown)."""
        self._server.should_exit = True

    def stop(self, timeout: float) -> None:
        """Stop accepting if not done yet, and wait for the server thread."""
        self.stop_accepting()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)
