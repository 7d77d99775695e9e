"""What the registry knows: versions with their model cards, and the release history.

The registry is a models folder or `s3://bucket/prefix` (see `registry`). Model cards
are read from each version's `assets.extra/metrics.json`; the history joins the
registry's own events (published, retired, halted, labels) with the release record's
(candidates trained, gate verdicts, verifications, rollbacks) in time order.
"""

import json
from pathlib import Path
from typing import Any

from covertype.defaults import ASSETS_EXTRA, METRICS_FILE
from registry.registry import Registry
from registry.store import version_key
from registry.uri import is_s3_uri, open_registry
from release.record import ReleaseRecord, record_path
from release.through_registry import RegistryRecord

CARD_KEY = f"{ASSETS_EXTRA}/{METRICS_FILE}"
# What the versions panel shows of a card; the whole card is one click away.
CARD_FIELDS = (
    "accuracy",
    "macro_f1",
    "created",
    "data_fingerprint",
    "data_uri",
    "rows",
    "evaluated_on",
    "best_epoch",
    "epochs_run",
    "training_seconds",
    "git_commit",
)


class Catalog:
    """Read-only view of one model in one registry; cards are cached (versions never change)."""

    def __init__(self, uri: str, model_name: str) -> None:
        self.uri = uri
        self.model_name = model_name
        self.registry: Registry = open_registry(uri)
        self._cards: dict[int, dict[str, Any]] = {}

    def versions(self) -> list[dict[str, Any]]:
        """Every committed version: state, labels, publication time and card summary."""
        rows = []
        for info in self.registry.versions(self.model_name):
            card = self.card(info.version)
            rows.append(
                {
                    "version": info.version,
                    "registry_state": str(info.state),
                    "labels": list(info.labels),
                    "published": info.published,
                    "size_bytes": info.size,
                    "card": {name: card.get(name) for name in CARD_FIELDS} if card else None,
                }
            )
        return rows

    def card(self, version: int) -> dict[str, Any] | None:
        """The whole model card of `version`; None when it has none or is not committed."""
        if version in self._cards:
            return self._cards[version]
        manifest = self.registry.manifests(self.model_name).get(version)
        if manifest is None:
            return None
        raw = self.registry.store.read(version_key(manifest, CARD_KEY))
        if raw is None:
            return None
        try:
            card = json.loads(raw)
        except ValueError:
            return None
        self._cards[version] = card
        return card

    def history(self) -> list[dict[str, Any]]:
        """Registry and release-record events, oldest first."""
        rows = [
            {
                "time": event.time,
                "source": "registry",
                "event": str(event.kind),
                "version": event.version,
                "label": event.label,
                "candidate": None,
                "reason": event.reason,
                "details": event.details,
            }
            for event in self.registry.history(self.model_name)
        ]
        for event in self._release_events():
            rows.append(
                {
                    "time": event.time,
                    "source": "release",
                    "event": event.event,
                    "version": event.version,
                    "label": event.details.get("label"),
                    "candidate": event.candidate,
                    "reason": event.reason,
                    "details": event.details,
                }
            )
        return sorted(rows, key=lambda row: _sortable_time(row["time"]))

    def _release_events(self) -> list[Any]:
        events = RegistryRecord(self.registry, self.model_name).events()
        if not is_s3_uri(self.uri):
            # A release without --registry keeps its record beside the versions.
            path = record_path(Path(self.uri), self.model_name)
            if path.is_file():
                events += ReleaseRecord(path).events()
        return events


def _sortable_time(text: str) -> str:
    """ISO times from both records, compared as UTC strings (`+00:00` and `Z` alike)."""
    return text.replace("+00:00", "").replace("Z", "")
