"""An HTTP proxy on the loopback that forwards nothing: it records each request and refuses it.

    with BlockingProxy() as proxy:
        context = browser.new_context(proxy=proxy.playwright_settings())
        ...
        proxy.seen  # ["CONNECT telemetry.example.com:443", "GET http://example.com/", ...]

A browser context using it reaches the loopback directly and nothing else: whatever the
page sends out of Playwright's reach (keepalive fetches and beacons sent as it unloads)
still ends here, and is seen.
"""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

# Chromium's own bypass list: these go straight to the servers under test.
DIRECT_HOSTS = "127.0.0.1,localhost,[::1]"
_MAX_REQUEST_LINE = 65536


class BlockingProxy:
    """A refusing, recording proxy served from a thread; a context manager."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.last_seen_at = 0.0  # time.monotonic() of the latest request; 0 before any
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The proxy's address, as a browser's proxy setting takes it."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def playwright_settings(self) -> dict[str, str]:
        """Playwright's `proxy` option sending everything but the loopback here."""
        return {"server": self.url, "bypass": DIRECT_HOSTS}

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _record(self, request_line: str) -> None:
        self.seen.append(request_line)
        self.last_seen_at = time.monotonic()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class RefuseAndRecord(BaseHTTPRequestHandler):
            """Answers every request, CONNECT included, with 403."""

            def handle_one_request(self) -> None:
                self.raw_requestline = self.rfile.readline(_MAX_REQUEST_LINE)
                self.close_connection = True
                if self.raw_requestline and self.parse_request():
                    proxy._record(f"{self.command} {self.path}")
                    self.send_error(403, "refused by the tests' blocking proxy")

            def log_message(self, format: str, *args: object) -> None:
                """Nothing on the test's output; `seen` is the record."""

        return RefuseAndRecord
