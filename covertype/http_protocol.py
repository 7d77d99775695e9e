"""uvicorn's httptools protocol with the limits it lacks: header size, read time, connections.

uvicorn bounds neither the size of a request's headers nor the time a client may take
to send its request: a client that stalls mid-headers or mid-body holds its connection
(and the memory of what it sent) for ever, and a thousand such clients hold a thousand.
`guarded_protocol(limits)` returns the protocol class uvicorn runs (its `http=`
option), used by the gateway and by the model server's REST API, which adds:

- a cap on the request line plus headers: 431 and the connection closed;
- a deadline for the whole request, from its first byte (or from the connection,
  for the first request) until the body is complete: 408 and the connection closed;
- a cap on open connections: a connection beyond it is closed at once.

Everything else is uvicorn's own protocol. The refusals are JSON in the shape of the
server using it (`ConnectionLimits.error_body`).
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

_log = logging.getLogger("covertype.http")

# (error code, message) -> the JSON body of a refusal
ErrorBody = Callable[[str, str], bytes]


@dataclass(frozen=True)
class ConnectionLimits:
    """What one client connection may take: header bytes, seconds per request."""

    max_header_bytes: int
    read_timeout_seconds: float
    max_connections: int
    error_body: ErrorBody


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing a request that breaks a limit."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol plus `limits` (set on the subclass `guarded_protocol` makes)."""

    limits: ConnectionLimits

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._refusal: tuple[int, str] | None = None
        self._header_bytes = 0
        self._read_deadline: asyncio.TimerHandle | None = None
        if len(self.connections) > self.limits.max_connections:
            _log.warning("connection refused: %d open", len(self.connections) - 1)
            transport.close()
            return
        self._arm_read_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_read_deadline()
        super().connection_lost(exc)

    # -- header size -----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._arm_read_deadline()

    def on_url(self, url: bytes) -> None:
        self._count_header_bytes(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_header_bytes(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count_header_bytes(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self.limits.max_header_bytes:
            limit = self.limits.max_header_bytes
            self._refusal = (431, f"the request line and headers exceed {limit} bytes")
            raise _Refused

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a parse error; a request stopped by a limit gets its own."""
        if self._refusal is None:
            super().send_400_response(msg)
            return
        status, message = self._refusal
        self._send_and_close(status, message)

    # -- read deadline ---------------------------------------------------------------------

    def on_message_complete(self) -> None:
        self._cancel_read_deadline()
        super().on_message_complete()

    def _arm_read_deadline(self) -> None:
        self._cancel_read_deadline()
        self._read_deadline = self.loop.call_later(
            self.limits.read_timeout_seconds, self._read_timed_out
        )

    def _cancel_read_deadline(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _read_timed_out(self) -> None:
        self._read_deadline = None
        if self.transport.is_closing():
            return
        started = self.cycle is not None and not self.cycle.response_complete
        answered = started and self.cycle.response_started
        if (self.scope is None and self.cycle is None) or answered:
            self.transport.close()  # nothing asked yet, or the app already answers
            return
        seconds = self.limits.read_timeout_seconds
        self._send_and_close(408, f"the request was not received within {seconds:g} s")

    # -- answering outside the app ---------------------------------------------------------

    def _send_and_close(self, status: int, message: str) -> None:
        """A JSON error in the server's shape (its function also logs it), then close."""
        body = self.limits.error_body(_CODES[status], message)
        self.transport.write(
            b"".join(
                [
                    STATUS_LINE[status],
                    b"content-type: application/json\r\n",
                    b"content-length: " + str(len(body)).encode() + b"\r\n",
                    b"connection: close\r\n\r\n",
                    body,
                ]
            )
        )
        if self.cycle is not None:
            self.cycle.disconnected = True  # the app, if it runs, must not answer too
        self.transport.close()


_CODES = {408: "request_timeout", 431: "headers_too_large"}


def guarded_protocol(limits: ConnectionLimits) -> type[GuardedHttpToolsProtocol]:
    """The protocol class for uvicorn's `http=` option, enforcing `limits`."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"limits": limits})
