"""Servable states as clients see them (`GetModelStatus`) and the monitor that records them."""

import enum
import threading
from dataclasses import dataclass

from tfserving.core.servable_id import ServableId
from tfserving.errors import ServingError


class ManagerState(enum.Enum):
    """The life cycle reported by `GetModelStatus` (same names as ModelVersionStatus.State)."""

    START = "START"
    LOADING = "LOADING"
    AVAILABLE = "AVAILABLE"
    UNLOADING = "UNLOADING"
    END = "END"


@dataclass(frozen=True)
class ServableState:
    """One version's manager state; `health` is the error that ended it, or the last failed
    load attempt of a version still LOADING (it will be retried)."""

    id: ServableId
    manager_state: ManagerState
    health: ServingError | None = None


class ServableStateMonitor:
    """Remembers the latest state of every version ever managed, like TF Serving's.

    Versions that were unloaded or failed stay visible as END, so clients can see
    what happened to them.
    """

    def __init__(self) -> None:
        self._states: dict[str, dict[int, ServableState]] = {}
        self._lock = threading.Lock()

    def publish(self, state: ServableState) -> None:
        """Record a state change."""
        with self._lock:
            self._states.setdefault(state.id.name, {})[state.id.version] = state

    def get_version_states(self, name: str) -> dict[int, ServableState]:
        """The latest state of every version of `name` ever managed."""
        with self._lock:
            return dict(self._states.get(name, {}))
