"""`covertype sync`: make a registry servable by one model server.

Each pass reads the committed versions and the events, downloads every live version the
base path lacks (verified, renamed into place), writes the model server's config (a
`specific` policy: every labelled version and the newest live one; labels on versions
that are not live are left out), then removes versions no longer live from the base
path once they have been out of the config for a grace period, never the last one
serving. A pass that fails changes nothing the server reads; the next one retries with
exponential backoff, so the sync recovers by itself.
"""

import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from registry.errors import RegistryError
from registry.events import VersionState
from registry.manifest import Manifest
from registry.materialise import clean_leftovers, local_versions, materialise, remove_version
from registry.registry import Registry
from registry.serving_config import (
    BasePathMismatch,
    read_served,
    render_config,
    write_if_changed,
)
from registry.sync_metrics import SyncMetrics

logger = logging.getLogger("covertype.sync")

MAX_BACKOFF_SECONDS = 60.0


@dataclass(frozen=True)
class SyncOptions:
    """What to sync, where, and how often."""

    models_dir: Path
    model_name: str
    config_file: Path
    poll_seconds: float = 5.0
    # A version leaves the config first; its folder goes once the server has had this long
    # to re-read the config and move to other versions.
    removal_grace_seconds: float = 60.0
    # A label moves to a version only once that version has been in the written config this
    # long: TF Serving refuses (and so does not apply at all) a config whose label names a
    # version that is not loaded yet. Keep it above the server's config poll plus a load.
    label_delay_seconds: float = 30.0

    @property
    def base_path(self) -> Path:
        """The folder the model server reads versions from: `<models-dir>/<model>`."""
        return (self.models_dir / self.model_name).absolute()


@dataclass(frozen=True)
class SyncResult:
    """What one pass did."""

    served: tuple[int, ...]
    labels: dict[str, int]
    installed: tuple[int, ...]
    removed: tuple[int, ...]
    config_written: bool


class Sync:
    """One registry synced into one base path and config file."""

    def __init__(self, registry: Registry, options: SyncOptions, metrics: SyncMetrics) -> None:
        self.registry = registry
        self.options = options
        self.metrics = metrics
        self._unserved_since: dict[int, float] = {}
        self._listed_since: dict[int, float] = {}

    def sync_once(self) -> SyncResult:
        """One complete pass.

        Raises `RegistryError` (the registry cannot be read, a download fails its check)
        or `BasePathMismatch`; what the server already serves stays as it was.
        """
        options = self.options
        base_path = options.base_path
        previous = read_served(options.config_file, options.model_name, base_path)
        for leftover in clean_leftovers(base_path):
            logger.info("interrupted download removed", extra={"folder": str(leftover)})
        manifests = self.registry.manifests(options.model_name)
        state = self.registry.state(options.model_name)
        live = [v for v in sorted(manifests) if state.state_of(v) is VersionState.LIVE]
        present = local_versions(base_path)
        self.metrics.versions_behind.set(len(set(live) ^ present))
        installed = tuple(self._install(manifests[v], base_path) for v in live if v not in present)
        on_disk = local_versions(base_path)
        serving = [v for v in live if v in on_disk] or self._last_serving(on_disk)
        for label in sorted(
            set(state.labels) - {k for k, v in state.labels.items() if v in serving}
        ):
            logger.warning(
                "label left out: its version is not live",
                extra={"label": label, "version": state.labels[label]},
            )
        now = time.monotonic()
        for version in previous.versions:
            self._listed_since.setdefault(version, -math.inf)
        loaded, labels = plan_serving(
            serving,
            state.labels,
            previous.labels,
            self._listed_since,
            now,
            options.label_delay_seconds,
        )
        self._listed_since = {v: self._listed_since.get(v, now) for v in loaded}
        text = render_config(options.model_name, base_path, loaded, labels)
        written = write_if_changed(options.config_file, text)
        if written:
            logger.info(
                "config written",
                extra={"file": str(options.config_file), "versions": loaded, "labels": labels},
            )
        removed = self._remove_unserved(base_path, on_disk - set(serving))
        self.metrics.versions_behind.set(len(on_disk - set(serving)) - len(removed))
        self.metrics.versions_served.set(len(loaded))
        self.metrics.last_success.set(time.time())
        self.metrics.ready.set()
        return SyncResult(tuple(loaded), labels, installed, removed, written)

    def _install(self, manifest: Manifest, base_path: Path) -> int:
        materialise(self.registry.store, manifest, base_path)
        logger.info("version installed", extra={"version": manifest.version})
        return manifest.version

    @staticmethod
    def _last_serving(on_disk: set[int]) -> list[int]:
        """With no live version left, the newest one on disk keeps serving."""
        if not on_disk:
            return []
        kept = max(on_disk)
        logger.warning(
            "no live version in the registry: the last one keeps serving", extra={"version": kept}
        )
        return [kept]

    def _remove_unserved(self, base_path: Path, unserved: set[int]) -> tuple[int, ...]:
        """Remove versions out of the config for the grace period (the server has moved on)."""
        now = time.monotonic()
        for version in set(self._unserved_since) - unserved:
            del self._unserved_since[version]
        removed = []
        for version in sorted(unserved):
            since = self._unserved_since.setdefault(version, now)
            if now - since >= self.options.removal_grace_seconds:
                remove_version(base_path, version)
                del self._unserved_since[version]
                removed.append(version)
                logger.info("version removed", extra={"version": version})
        return tuple(removed)

    def run(self, stop: threading.Event) -> None:
        """Sync every `poll_seconds` until `stop` is set; failures back off exponentially."""
        failures_in_row = 0
        while not stop.is_set():
            try:
                self.sync_once()
                failures_in_row = 0
                wait = self.options.poll_seconds
            except (RegistryError, BasePathMismatch, OSError) as error:
                kind = _failure_kind(error)
                self.metrics.failures.labels(kind=kind).inc()
                failures_in_row += 1
                wait = min(self.options.poll_seconds * 2**failures_in_row, MAX_BACKOFF_SECONDS)
                logger.error(
                    "sync failed",
                    extra={"kind": kind, "error": str(error), "retry_in_seconds": wait},
                )
            stop.wait(wait)


def _failure_kind(error: Exception) -> str:
    """The `kind` label of the failures metric."""
    if isinstance(error, RegistryError):
        return error.kind
    return "config" if isinstance(error, BasePathMismatch) else "io"


def plan_serving(
    serving: Sequence[int],
    wanted_labels: Mapping[str, int],
    previous_labels: Mapping[str, int],
    listed_since: Mapping[int, float],
    now: float,
    label_delay: float,
) -> tuple[list[int], dict[str, int]]:
    """The versions a config should load and its labels.

    Loads the newest serving version and every version a label is wanted on. A label
    moves to its wanted version once that version has been listed for `label_delay`
    seconds; until then it stays where the previous config had it (if still serving).
    """
    labels = {}
    for label, version in wanted_labels.items():
        if version not in serving:
            continue
        if now - listed_since.get(version, now) >= label_delay:
            labels[label] = version
        elif previous_labels.get(label) in serving:
            labels[label] = previous_labels[label]
    wanted = {v for v in wanted_labels.values() if v in serving}
    return sorted(set(serving[-1:]) | wanted | set(labels.values())), labels
