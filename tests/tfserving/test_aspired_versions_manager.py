"""The manager with simple in-memory loaders: load order, retries, errors, unloads."""

import threading
import time
from collections.abc import Callable, Iterator

import grpc
import pytest

from tfserving.core.aspired_versions_manager import (
    AspiredVersion,
    AspiredVersionsManager,
    ManagerOptions,
)
from tfserving.core.servable_id import ServableId, ServableRequest
from tfserving.core.servable_state import ManagerState, ServableStateMonitor
from tfserving.errors import ServingError, invalid_argument


class Loader:
    """Loads the string `servable-<version>`, optionally failing or blocking first."""

    def __init__(self, version: int, failures: int = 0, gate: threading.Event | None = None):
        self.version = version
        self.failures = failures
        self.gate = gate
        self.attempts = 0
        self.unloaded: list[str] = []

    def load(self) -> str:
        self.attempts += 1
        if self.gate is not None:
            assert self.gate.wait(10)
        if self.attempts <= self.failures:
            raise invalid_argument(f"version {self.version} is broken")
        return f"servable-{self.version}"

    def unload(self, servable: str) -> None:
        self.unloaded.append(servable)


@pytest.fixture
def monitor() -> ServableStateMonitor:
    return ServableStateMonitor()


@pytest.fixture
def manager(monitor: ServableStateMonitor) -> Iterator[AspiredVersionsManager]:
    manager = AspiredVersionsManager(
        monitor,
        ManagerOptions(
            max_num_load_retries=2,
            load_retry_interval_seconds=0.01,
            manage_state_interval_seconds=0.01,
        ),
    )
    manager.start()
    yield manager
    manager.stop()


def aspire(manager: AspiredVersionsManager, *loaders: Loader) -> None:
    manager.set_aspired_versions(
        "m", [AspiredVersion(ServableId("m", loader.version), loader) for loader in loaders]
    )


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def state(monitor: ServableStateMonitor, version: int) -> ManagerState | None:
    found = monitor.get_version_states("m").get(version)
    return found.manager_state if found else None


def latest(manager: AspiredVersionsManager) -> str:
    return manager.get_servable(ServableRequest.latest("m"))


def test_loads_an_aspired_version(
    manager: AspiredVersionsManager, monitor: ServableStateMonitor
) -> None:
    aspire(manager, Loader(1))
    eventually(lambda: state(monitor, 1) is ManagerState.AVAILABLE)
    assert latest(manager) == "servable-1"
    assert manager.get_servable(ServableRequest.specific("m", 1)) == "servable-1"


def test_a_new_version_is_loaded_before_the_old_one_is_unloaded(
    manager: AspiredVersionsManager, monitor: ServableStateMonitor
) -> None:
    old = Loader(1)
    aspire(manager, old)
    eventually(lambda: state(monitor, 1) is ManagerState.AVAILABLE)
    gate = threading.Event()
    new = Loader(2, gate=gate)
    aspire(manager, new)
    eventually(lambda: state(monitor, 2) is ManagerState.LOADING)  # held by its gate
    assert latest(manager) == "servable-1"
    assert state(monitor, 1) is ManagerState.AVAILABLE
    gate.set()
    eventually(lambda: state(monitor, 1) is ManagerState.END)
    assert latest(manager) == "servable-2"
    assert old.unloaded == ["servable-1"]
    assert monitor.get_version_states("m")[1].health is None


def test_a_failing_version_is_retried_then_ends_with_its_error(
    manager: AspiredVersionsManager, monitor: ServableStateMonitor
) -> None:
    aspire(manager, Loader(1))
    eventually(lambda: state(monitor, 1) is ManagerState.AVAILABLE)
    broken = Loader(2, failures=99)
    aspire(manager, broken)
    eventually(lambda: state(monitor, 2) is ManagerState.END)
    assert broken.attempts == 3  # the first try and max_num_load_retries=2 retries
    health = monitor.get_version_states("m")[2].health
    assert health is not None
    assert health.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "version 2 is broken" in health.message
    assert latest(manager) == "servable-1"
    assert state(monitor, 1) is ManagerState.AVAILABLE


def test_a_load_that_fails_once_succeeds_on_retry(
    manager: AspiredVersionsManager, monitor: ServableStateMonitor
) -> None:
    flaky = Loader(1, failures=1)
    aspire(manager, flaky)
    eventually(lambda: state(monitor, 1) is ManagerState.AVAILABLE)
    assert flaky.attempts == 2


def test_retries_stop_when_the_version_is_no_longer_aspired(
    monitor: ServableStateMonitor,
) -> None:
    manager = AspiredVersionsManager(
        monitor,
        ManagerOptions(
            max_num_load_retries=5,
            load_retry_interval_seconds=60,
            manage_state_interval_seconds=0.01,
        ),
    )
    manager.start()
    try:
        broken = Loader(1, failures=99)
        aspire(manager, broken)
        eventually(lambda: broken.attempts == 1)
        started = time.monotonic()
        aspire(manager)
        eventually(lambda: state(monitor, 1) is ManagerState.END)
        assert time.monotonic() - started < 5
        assert broken.attempts == 1
    finally:
        manager.stop()


def test_unaspired_versions_are_unloaded(
    manager: AspiredVersionsManager, monitor: ServableStateMonitor
) -> None:
    loader = Loader(1)
    aspire(manager, loader)
    eventually(lambda: state(monitor, 1) is ManagerState.AVAILABLE)
    aspire(manager)
    eventually(lambda: state(monitor, 1) is ManagerState.END)
    assert loader.unloaded == ["servable-1"]
    with pytest.raises(ServingError) as raised:
        latest(manager)
    assert raised.value.code == grpc.StatusCode.NOT_FOUND
    assert raised.value.message == "Servable not found for request: Latest(m)"


def test_unknown_models_and_versions_are_not_found(manager: AspiredVersionsManager) -> None:
    with pytest.raises(ServingError, match=r"Specific\(other, 3\)"):
        manager.get_servable(ServableRequest.specific("other", 3))
