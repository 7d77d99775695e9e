"""ASGI middleware around every request: request id, error pacing, access log, metrics.

A plain ASGI middleware rather than Starlette's `BaseHTTPMiddleware`, which costs a
task and a memory stream per request on the hot path. A request's access-log line and
metrics are recorded through `gateway.deferred`, after its answer has been sent.
"""

import asyncio
import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.deferred import DeferredWork
from gateway.error_pacing import ErrorPacer
from gateway.logs import ACCESS_LOGGER
from gateway.metrics import GatewayMetrics

REQUEST_ID_HEADER = "x-request-id"
# Kept when a client sends one: it must be a valid gRPC metadata value and a sane log field.
_ACCEPTED_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")
UNMATCHED_ROUTE = "unmatched"
PREDICT_ROUTE = "/v1/predict"

_access_log = logging.getLogger(ACCESS_LOGGER)
_log = logging.getLogger("covertype.gateway")


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's X-Request-ID when it is acceptable, otherwise a new one."""
    for name, value in headers:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _ACCEPTED_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Give each request an id (state `request_id`, `X-Request-ID` header), log and count it.

    With a `pacer`, a 4xx answer to a client address past its error budget is held
    for the pacer's delay before it is sent (`gateway.error_pacing`).
    Handlers may set state `instances` and `model_version` for the access log, which
    is written, with the request's metrics, by `deferred`.
    """

    def __init__(
        self,
        app: ASGIApp,
        metrics: GatewayMetrics,
        deferred: DeferredWork,
        pacer: ErrorPacer | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.deferred = deferred
        self.pacer = pacer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope["headers"])
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        header = (REQUEST_ID_HEADER.encode(), request_id.encode())
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", ()), header]
                if 400 <= status < 500 and self.pacer is not None:
                    await self._pace(scope, state)
            await send(message)

        in_progress = self.metrics.in_progress
        in_progress.inc()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            _log.exception("unhandled error", extra={"request_id": request_id})
            if response_started:
                raise
            status = 500
            await _send_internal_error(send, request_id, header)
        finally:
            in_progress.dec()
            seconds = time.perf_counter() - started
            self.deferred.defer(self._record, scope, request_id, status, seconds, time.time())

    async def _pace(self, scope: Scope, state: dict[str, Any]) -> None:
        """Hold an error answer while its client address is past its error budget."""
        assert self.pacer is not None
        client = scope.get("client")
        address = client[0] if client else "unknown"
        delay = self.pacer.delay(address, time.monotonic())
        if delay > 0:
            state["paced_ms"] = round(delay * 1000, 3)
            self.metrics.paced_errors.inc()
            await asyncio.sleep(delay)

    def _record(
        self, scope: Scope, request_id: str, status: int, seconds: float, ended_at: float
    ) -> None:
        """Count the request, and log it with `ended_at` (a `time.time()`) as its time."""
        route = scope.get("route")
        template = getattr(route, "path", None)
        if template is None:
            # A request no route matched (every route, docs and their assets included,
            # names itself in the scope): its own path only for a success, else
            # "unmatched", so that label values stay bounded.
            template = scope["path"] if status < 400 else UNMATCHED_ROUTE
        self.metrics.observe_request(template, scope["method"], status, seconds)
        state = scope["state"]
        if template == PREDICT_ROUTE and scope["method"] == "POST":
            self.metrics.observe_prediction(state.get("model_version"), status, seconds)
        if not _access_log.isEnabledFor(logging.INFO):
            return
        fields = {
            "request_id": request_id,
            "method": scope["method"],
            "route": template,
            "path": scope["path"],
            "status": status,
            "latency_ms": round(seconds * 1000, 3),
            "instances": state.get("instances"),
            "model_version": state.get("model_version"),
            "paced_ms": state.get("paced_ms"),
        }
        record = _access_log.makeRecord(
            _access_log.name, logging.INFO, "", 0, "request", (), None, extra=fields
        )
        record.relativeCreated -= (record.created - ended_at) * 1000
        record.created = ended_at
        record.msecs = int((ended_at - int(ended_at)) * 1000) + 0.0
        _access_log.handle(record)


async def _send_internal_error(send: Send, request_id: str, header: tuple[bytes, bytes]) -> None:
    body = json.dumps(
        {"error": "internal_error", "message": "unexpected gateway error", "request_id": request_id}
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        header,
    ]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body})
