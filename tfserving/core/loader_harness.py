"""The manager's record of one version: its loader, state, aspiredness and loaded servable."""

import enum
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from tfserving.core.servable_id import ServableId
from tfserving.errors import ServingError


class HarnessState(enum.Enum):
    """A version's state inside the manager (a subset of TF's LoaderHarness::State)."""

    NEW = "new"
    LOADING = "loading"
    READY = "ready"
    UNLOADING = "unloading"
    DISABLED = "disabled"
    ERROR = "error"


class Loader(Protocol):
    """Loads one version (`load` returns the servable) and releases it (`unload`)."""

    def load(self) -> Any: ...

    def unload(self, servable: Any) -> None: ...


@dataclass
class LoaderHarness:
    """One managed version. Mutated only under the manager's lock."""

    id: ServableId
    loader: Loader
    state: HarnessState = HarnessState.NEW
    is_aspired: bool = True
    servable: Any = None
    error: ServingError | None = None
    # Set when the version stops being aspired, to cut short a wait between load retries.
    cancel_load_retry: threading.Event = field(default_factory=threading.Event)
