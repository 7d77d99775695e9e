"""Input drift from the gateway's prediction log: per version and feature, the share of
inputs outside the range the version was trained on (the `covertype report` figures),
over the most recent predictions: the last `window_bytes` of the log and its rotated files.

The log is read again only when one of its files changed, and at most once per
`min_interval_seconds`; with the window, each reading costs the same however long the
log has grown, so an open console costs the gateway's machine little.
"""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from covertype.schema import FEATURE_COLUMNS
from monitoring.report import (
    RANGES_KEY,
    TrainingRanges,
    parse_entries,
    summarise,
    with_rotated,
)

CardReader = Callable[[int], dict[str, Any] | None]
DEFAULT_WINDOW_BYTES = 4 << 20  # about 2,000 logged predictions
FileStamp = tuple[str, int, int]


class DriftReport:
    """The prediction log's summary per version, recomputed when the log changes."""

    def __init__(
        self,
        log: Path,
        read_card: CardReader,
        min_interval_seconds: float,
        window_bytes: int = DEFAULT_WINDOW_BYTES,
    ) -> None:
        self.log = log
        self.read_card = read_card
        self.min_interval_seconds = min_interval_seconds
        self.window_bytes = window_bytes
        self._stamp: list[FileStamp] | None = None
        self._computed_at = 0.0
        self._result: dict[str, Any] | None = None

    def current(self) -> dict[str, Any]:
        """The latest summary (blocking: run it in a worker thread)."""
        now = time.monotonic()
        if self._result is not None and now - self._computed_at < self.min_interval_seconds:
            return self._result
        files = [path for path in with_rotated([self.log]) if path.is_file()]
        stamp = [_stamp(path) for path in files]
        if self._result is None or stamp != self._stamp:
            self._result = self._summarise(files)
            self._stamp = stamp
        self._computed_at = now
        return self._result

    def _summarise(self, files: list[Path]) -> dict[str, Any]:
        lines, read = recent_lines(files, self.window_bytes)
        entries, skipped = parse_entries(lines)
        report = summarise(entries, self._ranges, files, skipped)
        return {
            "log": str(self.log),
            "window_bytes": self.window_bytes,
            "bytes_read": read,
            "features": list(FEATURE_COLUMNS),
            "computed_at": time.time(),
            **report.to_dict(),
        }

    def _ranges(self, version: int) -> tuple[TrainingRanges, str] | None:
        card = self.read_card(version)
        raw = (card or {}).get(RANGES_KEY)
        if not isinstance(raw, dict):
            return None
        ranges = {name: (float(b["min"]), float(b["max"])) for name, b in raw.items()}
        return ranges, f"model card of version {version}"


def recent_lines(files: list[Path], window_bytes: int) -> tuple[list[str], int]:
    """The whole lines in the last `window_bytes` of `files` (newest file first, as
    `with_rotated` lists them), oldest first; and how many bytes were read."""
    chunks: list[bytes] = []
    budget = window_bytes
    for path in files:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            start = max(0, size - budget)
            handle.seek(start)
            data = handle.read(size - start)
        if start > 0:
            data = data[data.find(b"\n") + 1 :] if b"\n" in data else b""  # a cut line
        chunks.append(data)
        budget -= size - start
        if budget <= 0:
            break
    text = b"".join(reversed(chunks)).decode("utf-8", errors="replace")
    return text.splitlines(), window_bytes - max(budget, 0)


def _stamp(path: Path) -> FileStamp:
    status = path.stat()
    return str(path), status.st_size, status.st_mtime_ns
