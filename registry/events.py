"""Release events, one immutable object each, and the state they add up to.

Retire, restore, halt and label changes are never edits of a shared object: each is a new
event, so concurrent writers cannot lose one another's change. The state of a model (which
versions are retired or halted, where each label points) is a pure fold of its events in
key order.
"""

import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    """What an event records."""

    PUBLISHED = "published"
    RETIRED = "retired"
    RESTORED = "restored"
    HALTED = "halted"
    LABELLED = "labelled"
    UNLABELLED = "unlabelled"


class VersionState(StrEnum):
    """Where a committed version stands."""

    LIVE = "live"
    RETIRED = "retired"
    HALTED = "halted"


@dataclass(frozen=True)
class RegistryEvent:
    """One event: kind, version, label (for label events), reason and free-form details."""

    kind: EventKind
    version: int
    label: str | None = None
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    time: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="microseconds"))

    def key_name(self) -> str:
        """A name that sorts by time and never collides: `<utc time>-<random>.json`."""
        stamp = datetime.fromisoformat(self.time).strftime("%Y%m%dT%H%M%S%fZ")
        return f"{stamp}-{secrets.token_hex(4)}.json"

    def to_json(self) -> bytes:
        """Serialise."""
        return json.dumps(asdict(self), sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> "RegistryEvent":
        """Parse what `to_json` wrote."""
        data = json.loads(raw)
        return cls(**{**data, "kind": EventKind(data["kind"])})


@dataclass(frozen=True)
class ModelState:
    """Retired and halted versions and the labels, as the events leave them."""

    retired: frozenset[int] = frozenset()
    halted: frozenset[int] = frozenset()
    labels: Mapping[str, int] = field(default_factory=dict)

    def state_of(self, version: int) -> VersionState:
        """A committed version's state."""
        if version in self.retired:
            return VersionState.RETIRED
        if version in self.halted:
            return VersionState.HALTED
        return VersionState.LIVE


def fold(events: Iterable[RegistryEvent]) -> ModelState:
    """The state after `events`, applied in order."""
    retired: set[int] = set()
    halted: set[int] = set()
    labels: dict[str, int] = {}
    for event in events:
        if event.kind is EventKind.RETIRED:
            retired.add(event.version)
        elif event.kind is EventKind.HALTED:
            halted.add(event.version)
        elif event.kind is EventKind.RESTORED:
            retired.discard(event.version)
            halted.discard(event.version)
        elif event.kind is EventKind.LABELLED and event.label:
            labels[event.label] = event.version
        elif event.kind is EventKind.UNLABELLED and event.label:
            labels.pop(event.label, None)
    return ModelState(frozenset(retired), frozenset(halted), labels)
