"""The manager: keeps every aspired version's harness and moves it along the policy.

Sources call `set_aspired_versions(name, versions)` with the complete list of
versions they want served. The manager's thread then repeatedly asks the policy
for the next action and performs it: loads run on a loader thread (with TF
Serving's retries), unloads happen in the manager thread. Requests find servables
through `get_servable`, a lock-free read of an immutable serving map that is
replaced on every change, so a request never waits for a load.
"""

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import grpc

from tfserving.core.aspired_version_policy import (
    Action,
    AspiredServableStateSnapshot,
    AvailabilityPreservingPolicy,
)
from tfserving.core.loader_harness import HarnessState, Loader, LoaderHarness
from tfserving.core.servable_id import ServableId, ServableRequest
from tfserving.core.servable_state import ManagerState, ServableState, ServableStateMonitor
from tfserving.errors import ServingError, not_found
from tfserving.logs import log_event

logger = logging.getLogger(__name__)

# Harnesses in these states are forgotten once their version is no longer aspired.
_FLUSHABLE = (HarnessState.NEW, HarnessState.DISABLED, HarnessState.ERROR)


@dataclass(frozen=True)
class ManagerOptions:
    """TF Serving's load retry settings and how often the manager re-checks its streams."""

    max_num_load_retries: int = 5
    load_retry_interval_seconds: float = 60.0
    manage_state_interval_seconds: float = 0.1


@dataclass(frozen=True)
class AspiredVersion:
    """A version a source wants served, with the loader that can load it."""

    id: ServableId
    loader: Loader


@dataclass(frozen=True)
class _ServingMap:
    """Immutable view of the READY servables: by name and version, and the latest per name."""

    versions: MappingProxyType
    latest: MappingProxyType


class AspiredVersionsManager:
    """Loads, serves and unloads the versions that sources aspire to, per the policy."""

    def __init__(
        self,
        monitor: ServableStateMonitor,
        options: ManagerOptions,
        policy: AvailabilityPreservingPolicy | None = None,
    ) -> None:
        self._monitor = monitor
        self._options = options
        self._policy = policy or AvailabilityPreservingPolicy()
        self._lock = threading.Lock()
        self._harnesses: dict[str, dict[int, LoaderHarness]] = {}
        self._serving = _ServingMap(MappingProxyType({}), MappingProxyType({}))
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._loads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="servable-loader")
        self._thread = threading.Thread(target=self._run, name="aspired-versions-manager")

    # -- sources --------------------------------------------------------------------------

    def set_aspired_versions(self, name: str, versions: Sequence[AspiredVersion]) -> None:
        """Replace the set of versions of `name` that should be served."""
        wanted = {v.id.version: v for v in versions}
        with self._lock:
            stream = self._harnesses.setdefault(name, {})
            for version, harness in stream.items():
                aspired = version in wanted
                if harness.is_aspired and not aspired:
                    harness.cancel_load_retry.set()
                elif aspired and not harness.is_aspired:
                    harness.cancel_load_retry.clear()
                harness.is_aspired = aspired
            for version, aspired_version in wanted.items():
                if version not in stream:
                    stream[version] = LoaderHarness(aspired_version.id, aspired_version.loader)
                    self._publish(aspired_version.id, ManagerState.START)
        self._wake.set()

    # -- requests -------------------------------------------------------------------------

    def get_servable(self, request: ServableRequest) -> Any:
        """The READY servable the request asks for; NOT_FOUND if there is none."""
        serving = self._serving
        if request.version is None:
            servable = serving.latest.get(request.name)
        else:
            servable = serving.versions.get(request.name, {}).get(request.version)
        if servable is None:
            raise not_found(f"Servable not found for request: {request}")
        return servable

    def aspired_versions(self, name: str) -> list[int]:
        """The versions of `name` currently aspired, ascending."""
        with self._lock:
            return sorted(v for v, h in self._harnesses.get(name, {}).items() if h.is_aspired)

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the manager thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop managing: cancel pending retries and wait briefly for the threads."""
        self._stopped.set()
        with self._lock:
            for stream in self._harnesses.values():
                for harness in stream.values():
                    harness.cancel_load_retry.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._loads.shutdown(wait=False, cancel_futures=True)

    # -- the manager thread ---------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(self._options.manage_state_interval_seconds)
            self._wake.clear()
            if self._stopped.is_set():
                return
            try:
                self._manage_state()
            except Exception:
                logger.exception("manager iteration failed")

    def _manage_state(self) -> None:
        with self._lock:
            self._flush()
            names = list(self._harnesses)
        for name in names:
            # One action at a time, re-reading the states after each (bounded).
            for _ in range(64):
                if not self._take_next_action(name):
                    break

    def _flush(self) -> None:
        for name in list(self._harnesses):
            stream = self._harnesses[name]
            for version in [
                v for v, h in stream.items() if not h.is_aspired and h.state in _FLUSHABLE
            ]:
                del stream[version]
            if not stream:
                del self._harnesses[name]

    def _take_next_action(self, name: str) -> bool:
        with self._lock:
            stream = self._harnesses.get(name, {})
            snapshots = [
                AspiredServableStateSnapshot(h.id, h.state, h.is_aspired) for h in stream.values()
            ]
            action = self._policy.get_next_action(snapshots)
            if action is None:
                return False
            harness = stream[action.id.version]
            if action.action is Action.LOAD:
                harness.state = HarnessState.LOADING
                self._publish(harness.id, ManagerState.LOADING)
                self._loads.submit(self._load, harness)
                return True
            harness.state = HarnessState.UNLOADING
            self._publish(harness.id, ManagerState.UNLOADING)
            servable = harness.servable
            harness.servable = None
            self._rebuild_serving_map()
        self._unload(harness, servable)
        return True

    def _load(self, harness: LoaderHarness) -> None:
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                servable = harness.loader.load()
                break
            except Exception as exc:
                error = exc if isinstance(exc, ServingError) else _unknown(exc)
                retry = (
                    attempt <= self._options.max_num_load_retries
                    and harness.is_aspired
                    and not self._stopped.is_set()
                )
                log_event(
                    logger,
                    "servable_load_failed",
                    logging.WARNING if retry else logging.ERROR,
                    model=harness.id.name,
                    version=harness.id.version,
                    attempt=attempt,
                    will_retry=retry,
                    duration_ms=round((time.monotonic() - started) * 1000, 1),
                    error=str(error),
                )
                if retry:
                    # Still LOADING while it waits for the next attempt, with the error
                    # that will be retried, so clients see why it is not AVAILABLE yet.
                    with self._lock:
                        self._publish(harness.id, ManagerState.LOADING, error)
                    if not harness.cancel_load_retry.wait(
                        max(self._options.load_retry_interval_seconds, 0)
                    ):
                        continue
                with self._lock:
                    harness.state = HarnessState.ERROR
                    harness.error = error
                    self._publish(harness.id, ManagerState.END, error)
                self._wake.set()
                return
        with self._lock:
            harness.servable = servable
            harness.state = HarnessState.READY
            self._rebuild_serving_map()
            self._publish(harness.id, ManagerState.AVAILABLE)
        log_event(
            logger,
            "servable_loaded",
            model=harness.id.name,
            version=harness.id.version,
            attempts=attempt,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        )
        self._wake.set()

    def _unload(self, harness: LoaderHarness, servable: Any) -> None:
        started = time.monotonic()
        try:
            harness.loader.unload(servable)
        except Exception:
            logger.exception("unload of %s failed", harness.id)
        with self._lock:
            harness.state = HarnessState.DISABLED
            self._publish(harness.id, ManagerState.END)
        log_event(
            logger,
            "servable_unloaded",
            model=harness.id.name,
            version=harness.id.version,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        )

    def _rebuild_serving_map(self) -> None:
        """Replace the serving map from the READY harnesses (call with the lock held)."""
        versions: dict[str, MappingProxyType] = {}
        latest: dict[str, Any] = {}
        for name, stream in self._harnesses.items():
            ready = {
                v: h.servable
                for v, h in sorted(stream.items())
                if h.state is HarnessState.READY and h.servable is not None
            }
            if ready:
                versions[name] = MappingProxyType(ready)
                latest[name] = ready[max(ready)]
        self._serving = _ServingMap(MappingProxyType(versions), MappingProxyType(latest))

    def _publish(
        self, servable_id: ServableId, state: ManagerState, error: ServingError | None = None
    ) -> None:
        self._monitor.publish(ServableState(servable_id, state, error))


def _unknown(exc: Exception) -> ServingError:
    return ServingError(grpc.StatusCode.UNKNOWN, f"{type(exc).__name__}: {exc}")
