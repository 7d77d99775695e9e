"""Input drift from the gateway's prediction log: per version and feature, the share of
inputs outside the range the version was trained on (the `covertype report` figures).

The log is read again only when one of its files changed, and at most once per
`min_interval_seconds`, so an open console costs the machine little.
"""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from covertype.schema import FEATURE_COLUMNS
from monitoring.report import RANGES_KEY, TrainingRanges, read_entries, summarise, with_rotated

CardReader = Callable[[int], dict[str, Any] | None]
FileStamp = tuple[str, int, int]


class DriftReport:
    """The prediction log's summary per version, recomputed when the log changes."""

    def __init__(self, log: Path, read_card: CardReader, min_interval_seconds: float) -> None:
        self.log = log
        self.read_card = read_card
        self.min_interval_seconds = min_interval_seconds
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
        entries, skipped = read_entries(files)
        report = summarise(entries, self._ranges, files, skipped)
        return {
            "log": str(self.log),
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


def _stamp(path: Path) -> FileStamp:
    status = path.stat()
    return str(path), status.st_size, status.st_mtime_ns
