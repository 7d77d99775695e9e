"""The prediction log: one JSON line per prediction, written off the request path.

The request path only appends a small entry (references, no serialisation) to an
in-memory deque and never wakes anything up. A background thread wakes every
`flush_seconds`, drains the deque, turns the entries into JSON lines and writes them
through the standard library's `RotatingFileHandler`, which rotates the file by
size. Closing the log drains the deque before the file is closed, so a clean
shutdown loses no line; a crash loses at most the last `flush_seconds`.

Each line holds: `time` (UTC, ISO 8601), `request_id`, `model_name`,
`model_version`, `index` (the instance's position in its request), `instance`
(the 54 features by name, canonical order), `cover_type`, `probabilities` (classes
1..7 in order) and `latency_ms` (the whole request, as the gateway measured it).
"""

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Self

from covertype.schema import FEATURE_COLUMNS

_LOGGER_NAME = "covertype.predictions"
DEFAULT_MAX_BYTES = 100 * 1024 * 1024
DEFAULT_BACKUPS = 5
DEFAULT_FLUSH_SECONDS = 0.2


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


@dataclass(frozen=True)
class _Entry:
    """What the request path hands over: references only, serialised later."""

    time: float
    request_id: str
    model_name: str
    model_version: int
    features: Sequence[Sequence[float]]
    cover_types: Sequence[int]
    probabilities: Sequence[Sequence[float]]
    latency_ms: float


class _JsonLinesFormatter(logging.Formatter):
    """Formats an `_Entry` carried in `record.msg` as one JSON line per instance."""

    def format(self, record: logging.LogRecord) -> str:
        # RotatingFileHandler formats each record twice (size check, then write).
        cached = getattr(record, "json_lines", None)
        if cached is None:
            cached = record.json_lines = self._format_entry(record.msg)
        return cached

    @staticmethod
    def _format_entry(entry: _Entry) -> str:
        stamp = datetime.fromtimestamp(entry.time, UTC).isoformat(timespec="milliseconds")
        lines = []
        for index, (row, cover_type, probabilities) in enumerate(
            zip(entry.features, entry.cover_types, entry.probabilities, strict=True)
        ):
            line = {
                "time": stamp.replace("+00:00", "Z"),
                "request_id": entry.request_id,
                "model_name": entry.model_name,
                "model_version": entry.model_version,
                "index": index,
                "instance": dict(zip(FEATURE_COLUMNS, map(_number, row), strict=True)),
                "cover_type": int(cover_type),
                "probabilities": [float(p) for p in probabilities],
                "latency_ms": round(entry.latency_ms, 3),
            }
            lines.append(json.dumps(line, separators=(",", ":")))
        return "\n".join(lines)


class PredictionLog:
    """A prediction log; use as a context manager, or `start()` then `close()`."""

    def __init__(self, settings: PredictionLogSettings) -> None:
        self.settings = settings
        # deque.append and popleft are atomic: the request path needs no lock.
        self._pending: deque[_Entry] = deque()
        self._handler: RotatingFileHandler | None = None
        self._writer: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def enabled(self) -> bool:
        """Whether predictions are written (a path is configured)."""
        return self.settings.path is not None

    def start(self) -> None:
        """Open the file and start the writer thread (nothing to do when disabled)."""
        if not self.enabled or self._writer is not None:
            return
        path = self.settings.path
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(
            path,
            maxBytes=self.settings.max_bytes,
            backupCount=self.settings.backups,
            encoding="utf-8",
        )
        handler.setFormatter(_JsonLinesFormatter())
        self._handler = handler
        self._stop.clear()
        self._writer = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._writer.start()

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
        if self._writer is None:
            if self.enabled:
                raise RuntimeError("the prediction log is not started (or already closed)")
            return
        self._pending.append(
            _Entry(
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
        """Write every queued line, then close the file (idempotent)."""
        if self._writer is None:
            return
        self._stop.set()
        self._writer.join()
        self._writer = None
        assert self._handler is not None
        self._drain(self._handler)  # entries logged while the writer was finishing
        self._handler.close()
        self._handler = None

    def _run(self) -> None:
        handler = self._handler
        assert handler is not None
        while not self._stop.wait(self.settings.flush_seconds):
            self._drain(handler)
        self._drain(handler)

    def _drain(self, handler: RotatingFileHandler) -> None:
        while True:
            try:
                entry = self._pending.popleft()
            except IndexError:
                return
            handler.handle(logging.LogRecord(_LOGGER_NAME, logging.INFO, "", 0, entry, None, None))

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _number(value: float) -> float | int:
    """Keep integral feature values integral in the log (they are counts and codes)."""
    number = float(value)
    return int(number) if number.is_integer() else number
