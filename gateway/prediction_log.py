"""The prediction log: one JSON line per prediction, written off the request path.

Three stages, so that the gateway's event loop pays almost nothing:
- the request path appends one tuple of references to an in-memory deque (no
  serialisation, no lock, no thread wake-up);
- a feeder thread wakes every `flush_seconds`, drains the deque and sends the batch
  over a pipe (pickled in C, a millisecond or so per thousand entries);
- a writer *process* turns entries into JSON lines and writes them through the
  standard library's `RotatingFileHandler`, which rotates the file by size. JSON
  encoding is pure Python work; in a thread of the gateway it would compete with the
  event loop for the GIL and cut its throughput by double-digit percentages.

Closing the log sends what is left, then waits for the writer to write it and close
the file, so a clean shutdown loses no line; a crash loses at most the last
`flush_seconds`. The writer ignores SIGINT and SIGTERM (from its start: it inherits
the dispositions), so a signal sent to the gateway's whole process group (Ctrl-C,
systemd) stops the gateway, which then closes the log; the writer stops when the
gateway says so or goes away. On close the gateway logs how many predictions were
written, counted by the writer itself, and how many were lost, if any.

Each line holds: `time` (UTC, ISO 8601), `request_id`, `model_name`,
`model_version`, `index` (the instance's position in its request), `instance`
(the 54 features by name, canonical order), `cover_type`, `probabilities` (classes
1..7 in order) and `latency_ms` (the whole request, as the gateway measured it).
"""

import contextlib
import json
import logging
import multiprocessing
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Self

from covertype.schema import FEATURE_COLUMNS

DEFAULT_MAX_BYTES = 100 * 1024 * 1024
DEFAULT_BACKUPS = 5
DEFAULT_FLUSH_SECONDS = 0.2
# Lines are written in chunks of at most this size (or max_bytes, when smaller).
CHUNK_BYTES = 64 * 1024
WRITER_STOP_SECONDS = 60.0

_LOGGER_NAME = "covertype.predictions"
_log = logging.getLogger("covertype.gateway")

# (time, request_id, model_name, model_version, features, cover_types, probabilities, latency_ms)
Entry = tuple[
    float, str, str, int, Sequence[Sequence[float]], Sequence[int], Sequence[Sequence[float]], float
]


@dataclass(frozen=True)
class PredictionLogSettings:
    """Where and how to write the log; `path=None` turns it off.

    `max_bytes` is the size at which the file is rotated to `<path>.1` (and older
    files shift up to `<path>.<backups>`, the oldest being dropped); 0 never rotates.
    """

    path: Path | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    backups: int = DEFAULT_BACKUPS
    flush_seconds: float = DEFAULT_FLUSH_SECONDS

    def __post_init__(self) -> None:
        if self.max_bytes < 0:
            raise ValueError(f"prediction log max_bytes must be >= 0, got {self.max_bytes}")
        if self.backups < 0:
            raise ValueError(f"prediction log backups must be >= 0, got {self.backups}")
        if not self.flush_seconds > 0:
            raise ValueError(f"prediction log flush_seconds must be > 0, got {self.flush_seconds}")


class PredictionLog:
    """A prediction log; use as a context manager, or `start()` then `close()`."""

    def __init__(self, settings: PredictionLogSettings) -> None:
        self.settings = settings
        # deque.append and popleft are atomic: the request path needs no lock.
        self._pending: deque[Entry] = deque()
        self._sender: Connection | None = None
        self._writer: Any = None  # a multiprocessing Process
        self._feeder: threading.Thread | None = None
        self._stop = threading.Event()
        self._written: Any = None  # a shared counter: predictions the writer wrote
        self.logged = 0  # predictions (instances) queued
        self.written = 0  # predictions the writer wrote, known once the log is closed

    @property
    def enabled(self) -> bool:
        """Whether predictions are written (a path is configured)."""
        return self.settings.path is not None

    def start(self) -> None:
        """Check the file can be written, start the writer process and the feeder thread."""
        if not self.enabled or self._feeder is not None:
            return
        path = self.settings.path
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        path.open("a", encoding="utf-8").close()  # fail here, at start-up, if it cannot
        # spawn, not fork: the gateway process runs threads (event loop, gRPC).
        context = multiprocessing.get_context("spawn")
        receiver, self._sender = context.Pipe(duplex=False)
        self._written = context.Value("q", 0, lock=False)
        self._writer = context.Process(
            target=_write_forever,
            args=(
                receiver,
                self._written,
                str(path),
                self.settings.max_bytes,
                self.settings.backups,
            ),
            name="prediction-log-writer",
            daemon=True,
        )
        with _stop_signals_ignored():
            self._writer.start()
        receiver.close()
        self._stop.clear()
        self._feeder = threading.Thread(target=self._feed, name="prediction-log", daemon=True)
        self._feeder.start()

    def log(
        self,
        *,
        request_id: str,
        model_name: str,
        model_version: int,
        features: Sequence[Sequence[float]],
        cover_types: Sequence[int],
        probabilities: Sequence[Sequence[float]],
        latency_ms: float,
    ) -> None:
        """Queue one request's predictions; returns at once (the caller must not mutate them).

        `features` holds one row of 54 values per instance, in the canonical column
        order of `covertype.schema.FEATURE_COLUMNS`.
        """
        if self._feeder is None:
            if self.enabled:
                raise RuntimeError("the prediction log is not started (or already closed)")
            return
        self.logged += len(features)
        self._pending.append(
            (
                time.time(),
                request_id,
                model_name,
                model_version,
                features,
                cover_types,
                probabilities,
                latency_ms,
            )
        )

    def close(self) -> None:
        """Write every queued line, then close the file and stop the writer (idempotent)."""
        if self._feeder is None:
            return
        self._stop.set()
        self._feeder.join()
        self._feeder = None
        self._send_pending()  # entries logged while the feeder was finishing
        if self._sender is not None:  # None: the writer died (already logged)
            with contextlib.suppress(OSError):
                self._sender.send(None)
            self._sender.close()
            self._sender = None
        assert self._writer is not None
        self._writer.join(WRITER_STOP_SECONDS)
        if self._writer.is_alive():
            _log.error("prediction log writer did not stop; terminating it")
            self._writer.terminate()
            self._writer.join()
        self._writer = None
        self.written = self._written.value
        lost = self.logged - self.written
        _log.log(
            logging.ERROR if lost else logging.INFO,
            "prediction log closed: %d prediction(s) written to %s, %d lost",
            self.written,
            self.settings.path,
            lost,
        )

    def _feed(self) -> None:
        while not self._stop.wait(self.settings.flush_seconds):
            self._send_pending()

    def _send_pending(self) -> None:
        batch = []
        while True:
            try:
                batch.append(self._pending.popleft())
            except IndexError:
                break
        if not batch or self._sender is None:
            return
        try:
            self._sender.send(batch)
        except OSError as error:
            _log.error("prediction log writer is gone (%s); predictions are not logged", error)
            self._sender.close()
            self._sender = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@contextlib.contextmanager
def _stop_signals_ignored() -> Iterator[None]:
    """Ignore SIGINT and SIGTERM meanwhile (in the main thread; elsewhere nothing changes).

    A process started meanwhile inherits the dispositions, so it is never interrupted,
    not even during its own start-up.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _write_forever(
    receiver: Connection, written: Any, path: str, max_bytes: int, backups: int
) -> None:
    """The writer process: JSON lines for every batch received, until None (or EOF).

    `written` (a shared integer) counts the predictions written so far.
    """
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    handler = RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    limit = min(CHUNK_BYTES, max_bytes or CHUNK_BYTES)
    try:
        while True:
            try:
                batch = receiver.recv()
            except EOFError:
                return  # the gateway died without closing the log
            if batch is None:
                return
            _write_batch(handler, batch, limit)
            written.value += sum(len(entry[5]) for entry in batch)
    finally:
        handler.close()


def _write_batch(handler: RotatingFileHandler, batch: list[Entry], limit: int) -> None:
    """Write a batch in chunks of lines (one handler call, so one size check, per chunk)."""
    chunk: list[str] = []
    size = 0
    for entry in batch:
        for line in _json_lines(entry):
            if chunk and size + len(line) + 1 > limit:
                _write(handler, chunk)
                chunk, size = [], 0
            chunk.append(line)
            size += len(line) + 1
    if chunk:
        _write(handler, chunk)


def _json_lines(entry: Entry) -> list[str]:
    """One JSON line (without newline) per instance of the entry."""
    moment, request_id, model_name, version, features, cover_types, probabilities, latency = entry
    stamp = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
    stamp = stamp.replace("+00:00", "Z")
    return [
        json.dumps(
            {
                "time": stamp,
                "request_id": request_id,
                "model_name": model_name,
                "model_version": version,
                "index": index,
                "instance": dict(zip(FEATURE_COLUMNS, _numbers(row), strict=True)),
                "cover_type": int(cover_type),
                "probabilities": [float(p) for p in row_probabilities],
                "latency_ms": round(latency, 3),
            },
            separators=(",", ":"),
        )
        for index, (row, cover_type, row_probabilities) in enumerate(
            zip(features, cover_types, probabilities, strict=True)
        )
    ]


def _write(handler: RotatingFileHandler, lines: list[str]) -> None:
    """Hand lines to the handler as one record: it rotates (by size) before writing them."""
    record = logging.LogRecord(_LOGGER_NAME, logging.INFO, "", 0, "\n".join(lines), None, None)
    handler.handle(record)


def _numbers(row: Sequence[float]) -> list[float | int]:
    """Integral feature values as ints (they are counts and codes): shorter, faster JSON."""
    return [int(number) if (number := float(v)).is_integer() else number for v in row]
