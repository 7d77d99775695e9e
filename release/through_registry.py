"""Rollback, labels and the release record when versions live in a registry.

With `--registry`, what is served changes in the registry only: a rollback retires
versions and a label move is a label event. The sync beside each model server turns the
registry into the version folders and the config that server polls, so every replica
converges by itself and no command depends on reaching one server. A server given with
`--tfserving` is only watched, to report when the change has reached it. The release
record is kept in the registry as well (one object per event), so every machine sees the
same history. Imports no TensorFlow.
"""

import re
import secrets
from dataclasses import dataclass

from registry.events import VersionState
from registry.registry import Registry
from registry.store import registry_prefix
from release.record import Event, RecordError, ReleaseEvent
from release.rollback_plan import RollbackError, plan
from release.serving import ModelServer, States

RELEASES_FOLDER = "releases/"


class RegistryRecord:
    """The release record in a registry: one object per event, never edited.

    Concurrent writers (two machines releasing) never lose each other's events, since
    each event is its own object with a name no one else uses.
    """

    def __init__(self, registry: Registry, model_name: str) -> None:
        self.registry = registry
        self.prefix = registry_prefix(model_name) + RELEASES_FOLDER

    @property
    def location(self) -> str:
        """Where the events are, for messages."""
        return self.registry.store.location(self.prefix)

    def append(self, event: ReleaseEvent) -> ReleaseEvent:
        """Store `event` as a new object and return it."""
        stamp = re.sub(r"[^0-9TZ]", "", event.time)
        key = f"{self.prefix}{stamp}-{secrets.token_hex(4)}.json"
        self.registry.store.write(key, event.to_json().encode("utf-8"), if_absent=True)
        return event

    def events(self) -> list[ReleaseEvent]:
        """Every event, oldest first."""
        events = []
        for key in self.registry.store.keys(self.prefix):
            raw = self.registry.store.read(key)
            if raw is None:
                continue
            try:
                events.append(ReleaseEvent.from_json(raw.decode("utf-8")))
            except (ValueError, KeyError, TypeError) as error:
                raise RecordError(f"{self.registry.store.location(key)}: {error}") from error
        return events


def live_versions(registry: Registry, model_name: str) -> list[int]:
    """The committed versions neither retired nor halted, ascending."""
    return [
        info.version for info in registry.versions(model_name) if info.state is VersionState.LIVE
    ]


@dataclass(frozen=True)
class RegistryRollback:
    """What a rollback retired, where labels went, and the watched server once settled."""

    removed: list[int]
    fallback: int
    labels_moved: dict[str, tuple[int, int]]
    states: States | None


def roll_back(
    registry: Registry,
    model_name: str,
    *,
    to: int | None,
    reason: str,
    record: RegistryRecord,
    run: str,
    server: ModelServer | None,
    timeout: float,
) -> RegistryRollback:
    """Retire the newest live version (or every live one newer than `to`).

    Labels on a retired version move to the fallback. Nothing is deleted: `covertype
    versions --registry` still lists the retired versions, and they can be restored.
    """
    where = f"the live versions of {registry.uri}"
    fallback, removed = plan(live_versions(registry, model_name), to, where)
    labels = registry.state(model_name).labels
    moved = {label: (v, fallback) for label, v in sorted(labels.items()) if v in removed}
    details = {"versions": removed, "fallback": fallback, "registry": registry.uri}
    record.append(ReleaseEvent(Event.ARCHIVING, reason, run, version=removed[-1], details=details))
    for label in moved:
        registry.set_label(model_name, label, fallback, reason=f"rollback: {reason}")
    for version in removed:
        registry.retire(model_name, version, reason=reason)
    record.append(ReleaseEvent(Event.ARCHIVED, reason, run, version=removed[-1], details=details))
    states = None
    if server is not None:
        server.wait_available({fallback}, timeout)
        states = server.wait_unloaded(removed, timeout)
    return RegistryRollback(removed, fallback, moved, states)


def move_label(
    registry: Registry,
    model_name: str,
    *,
    label: str,
    version: int,
    record: RegistryRecord,
    run: str,
    server: ModelServer | None,
    timeout: float,
) -> tuple[int | None, States | None]:
    """Point `label` at a live `version`; return where it pointed before and the server."""
    state = registry.state(model_name)
    if state.state_of(version) is not VersionState.LIVE:
        raise RollbackError(
            f"version {version} is {state.state_of(version)} in {registry.uri}: a label can "
            "only point at a live version (restore it first)"
        )
    before = state.labels.get(label)
    details = {"label": label, "from": before, "registry": registry.uri}
    record.append(ReleaseEvent(Event.LABELLING, "", run, version=version, details=details))
    registry.set_label(model_name, label, version)
    record.append(ReleaseEvent(Event.LABELLED, "", run, version=version, details=details))
    states = server.wait_available({version}, timeout) if server is not None else None
    return before, states
