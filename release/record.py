"""The release record: an append-only JSON lines file kept beside the model base path.

Every procedure appends an event *before* it changes what is served (and another one
after), so a run that crashes half-way leaves a record that says exactly how far it
got. Each event is one `write()` on a descriptor opened with `O_APPEND`, followed by
`fsync`, so concurrent writers never interleave or lose lines.
"""

import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from covertype.durable import fsync_dir

RECORD_SUFFIX = ".releases.jsonl"


class Event:
    """The event names the record uses, in the order a release goes through them."""

    TRAINED = "trained"
    GATE = "gate"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    VERIFIED = "verified"
    VERIFY_FAILED = "verify_failed"
    ARCHIVING = "archiving"
    ARCHIVED = "archived"
    LABELLING = "labelling"
    LABELLED = "labelled"
    FAILED = "failed"


@dataclass(frozen=True)
class ReleaseEvent:
    """One line of the record.

    `run` ties together the events of one command invocation, `candidate` names a
    trained model before (and after) it has a version number.
    """

    event: str
    reason: str = ""
    run: str | None = None
    candidate: str | None = None
    version: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    time: str = field(default_factory=lambda: utc_now())

    def to_json(self) -> str:
        """Serialise as one JSON line (without the newline)."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> "ReleaseEvent":
        """Parse a line written by `to_json`."""
        data = json.loads(line)
        return cls(
            event=data["event"],
            reason=data.get("reason", ""),
            run=data.get("run"),
            candidate=data.get("candidate"),
            version=data.get("version"),
            details=data.get("details") or {},
            time=data["time"],
        )


class RecordError(Exception):
    """The record file exists but a line in it cannot be read."""


def utc_now() -> str:
    """The current time in ISO 8601, UTC, millisecond precision."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_run_id() -> str:
    """A sortable, unique, never all-digit id for one command invocation."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def record_path(models_dir: Path, model_name: str) -> Path:
    """Where the record of `model_name` lives: `<models-dir>/<model>.releases.jsonl`."""
    return models_dir / f"{model_name}{RECORD_SUFFIX}"


class ReleaseRecord:
    """Appends events to, and reads events from, one record file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def location(self) -> str:
        """Where the events are, for messages."""
        return str(self.path)

    def append(self, event: ReleaseEvent) -> ReleaseEvent:
        """Append `event` durably (one O_APPEND write, then fsync) and return it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = (event.to_json() + "\n").encode("utf-8")
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(f"short write to {self.path}: {written} of {len(data)} bytes")
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            fsync_dir(self.path.parent)
        return event

    def events(self) -> list[ReleaseEvent]:
        """Every event in the order written; an absent file is an empty record."""
        return list(self._iter_events())

    def _iter_events(self) -> Iterator[ReleaseEvent]:
        try:
            handle = self.path.open(encoding="utf-8")
        except FileNotFoundError:
            return
        with handle:
            for number, line in enumerate(handle, start=1):
                # A line without its newline is a write cut short by a crash: never
                # completed, so never acted upon.
                if not line.strip() or not line.endswith("\n"):
                    continue
                try:
                    yield ReleaseEvent.from_json(line)
                except (ValueError, KeyError, TypeError) as error:
                    raise RecordError(f"{self.path}, line {number}: {error}") from error
