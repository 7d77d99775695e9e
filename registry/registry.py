"""The registry: the one owner of a model's versions, their states, labels and history.

    registry = open_registry("s3://bucket/models")  # or a local folder
    version = registry.publish(candidate_folder, "covertype")
    registry.set_label("covertype", "stable", version, reason="release 20260101")
    registry.retire("covertype", version, reason="rollback")

A version exists once its manifest is committed; everything else (retire, restore, halt,
labels) is an event object, never an edit, and nothing is ever deleted.
"""

import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from registry.errors import IntegrityError, VersionNotFound
from registry.events import EventKind, ModelState, RegistryEvent, VersionState, fold
from registry.manifest import CardSummary, Manifest, card_summary, file_entries
from registry.store import VersionStore, events_prefix


@dataclass(frozen=True)
class VersionInfo:
    """A committed version as `versions` lists it."""

    version: int
    state: VersionState
    labels: tuple[str, ...]
    card: CardSummary
    size: int
    published: str


class Registry:
    """Versions, labels and history of the models in one store."""

    def __init__(self, store: VersionStore) -> None:
        self.store = store
        self._manifests: dict[str, dict[int, Manifest]] = {}
        self._events: dict[str, dict[str, RegistryEvent]] = {}

    @property
    def uri(self) -> str:
        """The registry's URI (a folder path or `s3://bucket/prefix`)."""
        return self.store.uri

    def publish(self, folder: Path, model_name: str) -> int:
        """Store a complete version folder as the next number; return the number."""
        files = file_entries(Path(folder))
        publisher = f"{socket.gethostname()}-{secrets.token_hex(4)}"
        card = card_summary(Path(folder))

        def manifest_for(version: int, files_prefix: str) -> Manifest:
            return Manifest(version, files, card, files_prefix, publisher=publisher)

        version = self.store.commit_version(model_name, Path(folder), manifest_for)
        self._record(model_name, RegistryEvent(EventKind.PUBLISHED, version))
        return version

    def manifests(self, model_name: str) -> dict[int, Manifest]:
        """Every committed version's manifest, by number."""
        known = self._manifests.get(model_name, {})
        self._manifests[model_name] = self.store.manifests(model_name, known)
        return self._manifests[model_name]

    def manifest(self, model_name: str, version: int) -> Manifest:
        """One committed version's manifest; `VersionNotFound` if it is not committed."""
        found = self.manifests(model_name).get(version)
        if found is None:
            raise VersionNotFound(
                self.uri,
                f"{model_name} has no committed version {version}",
                "List the versions with `covertype versions --registry URI`.",
            )
        return found

    def history(self, model_name: str) -> list[RegistryEvent]:
        """Every event of the model, oldest first."""
        prefix = events_prefix(model_name)
        known = self._events.setdefault(model_name, {})
        for key in self.store.keys(prefix):
            if key not in known:
                raw = self.store.read(key)
                if raw is not None:
                    known[key] = RegistryEvent.from_json(raw)
        return [known[key] for key in sorted(known)]

    def state(self, model_name: str) -> ModelState:
        """Retired and halted versions and labels, as the history leaves them."""
        return fold(self.history(model_name))

    def versions(self, model_name: str) -> list[VersionInfo]:
        """Every committed version with its state, labels and card summary, ascending."""
        manifests = self.manifests(model_name)
        state = self.state(model_name)
        return [
            VersionInfo(
                version=number,
                state=state.state_of(number),
                labels=tuple(sorted(k for k, v in state.labels.items() if v == number)),
                card=manifest.card,
                size=manifest.size,
                published=manifest.published,
            )
            for number, manifest in sorted(manifests.items())
        ]

    def retire(self, model_name: str, version: int, reason: str = "") -> RegistryEvent:
        """Take a version out of service everywhere (rollback); it stays in the registry."""
        return self._version_event(model_name, EventKind.RETIRED, version, reason)

    def restore(self, model_name: str, version: int, reason: str = "") -> RegistryEvent:
        """Put a retired or halted version back in service."""
        return self._version_event(model_name, EventKind.RESTORED, version, reason)

    def halt(self, model_name: str, version: int, reason: str = "") -> RegistryEvent:
        """Mark a candidate that failed its release checks: never served, kept for study."""
        return self._version_event(model_name, EventKind.HALTED, version, reason)

    def set_label(
        self, model_name: str, label: str, version: int, reason: str = ""
    ) -> RegistryEvent:
        """Point `label` (e.g. `stable`, `canary`) at a committed version."""
        self.manifest(model_name, version)
        event = RegistryEvent(EventKind.LABELLED, version, label=label, reason=reason)
        return self._record(model_name, event)

    def remove_label(self, model_name: str, label: str, reason: str = "") -> RegistryEvent | None:
        """Remove `label`; None when it was not set."""
        version = self.state(model_name).labels.get(label)
        if version is None:
            return None
        event = RegistryEvent(EventKind.UNLABELLED, version, label=label, reason=reason)
        return self._record(model_name, event)

    def _version_event(
        self, model_name: str, kind: EventKind, version: int, reason: str
    ) -> RegistryEvent:
        self.manifest(model_name, version)
        return self._record(model_name, RegistryEvent(kind, version, reason=reason))

    def _record(self, model_name: str, event: RegistryEvent) -> RegistryEvent:
        key = events_prefix(model_name) + event.key_name()
        if not self.store.write(key, event.to_json(), if_absent=True):
            raise IntegrityError(
                self.uri, f"event key {key} already exists", "Retry: event names are random."
            )
        return event
