"""The HTTP server carrying the REST API and the Prometheus page: Starlette on uvicorn.

It runs in its own thread and event loop, next to the gRPC server in the same
process. Request handling (JSON parsing, TensorFlow) happens in worker threads,
`--rest_api_num_threads` of them, so the event loop only moves bytes.
"""

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

from tfserving.model_servers.http_rest_api import (
    JSON_CONTENT_TYPE,
    PATH_PREFIX,
    HttpRestApiHandler,
)
from tfserving.monitoring import CONTENT_TYPE, Metrics

_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]


class HttpServerError(Exception):
    """The HTTP server could not start."""


def create_app(
    handler: HttpRestApiHandler,
    metrics: Metrics,
    prometheus_path: str | None,
    num_threads: int,
) -> Starlette:
    """The ASGI app: `/v1/...` to the REST handler, the metrics path to Prometheus text."""

    async def dispatch(request: Request) -> Response:
        path = request.url.path
        if prometheus_path is not None and path == prometheus_path:
            page = await run_in_threadpool(metrics.exposition)
            return Response(page, media_type=CONTENT_TYPE)
        raw_path = request.scope.get("raw_path", path.encode()).decode("latin-1")
        if not PATH_PREFIX.fullmatch(raw_path):
            return PlainTextResponse("Not Found", status_code=404)
        body = await request.body()
        answer = await run_in_threadpool(handler.process, request.method, raw_path, body)
        return Response(
            answer.body,
            status_code=answer.status,
            media_type=JSON_CONTENT_TYPE,
            headers=answer.headers,
        )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = max(num_threads, 1)
        yield

    return Starlette(routes=[Route("/{path:path}", dispatch, methods=_METHODS)], lifespan=lifespan)


class HttpServer:
    """uvicorn serving an app on host:port from a background thread."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, lifespan="on"
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

    def stop(self) -> None:
        """Stop accepting connections and wait for the thread."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
