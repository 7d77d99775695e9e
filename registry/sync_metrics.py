"""The sync's Prometheus metrics and its small HTTP endpoint (/metrics, /healthz, /readyz)."""

import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)


class SyncMetrics:
    """What the sync reports, in its own collector registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.last_success = Gauge(
            "covertype_sync_last_success_timestamp_seconds",
            "Unix time of the last sync that completed",
            registry=self.registry,
        )
        self.versions_behind = Gauge(
            "covertype_sync_versions_behind",
            "Versions the registry serves that the local base path lacks, plus retired "
            "versions still present",
            registry=self.registry,
        )
        self.versions_served = Gauge(
            "covertype_sync_versions_served",
            "Versions the written config asks the model server to load",
            registry=self.registry,
        )
        self.failures = Counter(
            "covertype_sync_failures",
            "Syncs that failed, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.store_requests = Counter(
            "covertype_sync_store_requests",
            "Requests sent to the object store",
            registry=self.registry,
        )
        self.ready = threading.Event()


def serve_metrics(metrics: SyncMetrics, host: str, port: int) -> ThreadingHTTPServer:
    """Serve /metrics, /healthz and /readyz (200 once a first sync completed) in a thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._answer(HTTPStatus.OK, generate_latest(metrics.registry), CONTENT_TYPE_LATEST)
            elif self.path == "/healthz":
                self._answer(HTTPStatus.OK, b"ok\n")
            elif self.path == "/readyz":
                ready = metrics.ready.is_set()
                status = HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE
                self._answer(status, b"ready\n" if ready else b"no complete sync yet\n")
            else:
                self._answer(HTTPStatus.NOT_FOUND, b"not found\n")

        def _answer(self, status: HTTPStatus, body: bytes, kind: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Scrapes are not worth a log line each."""

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="sync-metrics", daemon=True).start()
    return server
