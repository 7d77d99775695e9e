"""The availability-preserving policy, as a pure function of plain snapshots."""

from tfserving.core.aspired_version_policy import (
    Action,
    AspiredServableStateSnapshot,
    AvailabilityPreservingPolicy,
    ServableAction,
)
from tfserving.core.loader_harness import HarnessState
from tfserving.core.servable_id import ServableId

NEW = HarnessState.NEW
LOADING = HarnessState.LOADING
READY = HarnessState.READY
ERROR = HarnessState.ERROR
DISABLED = HarnessState.DISABLED


def snapshot(version: int, state: HarnessState, aspired: bool) -> AspiredServableStateSnapshot:
    return AspiredServableStateSnapshot(ServableId("m", version), state, aspired)


def next_action(*snapshots: AspiredServableStateSnapshot) -> ServableAction | None:
    return AvailabilityPreservingPolicy().get_next_action(list(snapshots))


def load(version: int) -> ServableAction:
    return ServableAction(Action.LOAD, ServableId("m", version))


def unload(version: int) -> ServableAction:
    return ServableAction(Action.UNLOAD, ServableId("m", version))


def test_nothing_to_do_for_no_versions() -> None:
    assert next_action() is None


def test_loads_the_first_aspired_version() -> None:
    assert next_action(snapshot(1, NEW, True)) == load(1)


def test_loads_the_highest_new_aspired_version_first() -> None:
    assert next_action(snapshot(1, NEW, True), snapshot(3, NEW, True), snapshot(2, NEW, True)) == (
        load(3)
    )


def test_keeps_the_old_version_while_the_new_one_is_not_ready() -> None:
    old = snapshot(1, READY, False)
    assert next_action(old, snapshot(2, NEW, True)) == load(2)
    assert next_action(old, snapshot(2, LOADING, True)) is None


def test_unloads_the_old_version_once_the_new_one_serves() -> None:
    assert next_action(snapshot(1, READY, False), snapshot(2, READY, True)) == unload(1)


def test_a_failed_new_version_leaves_the_old_one_serving() -> None:
    assert next_action(snapshot(1, READY, False), snapshot(2, ERROR, True)) is None


def test_unloads_when_nothing_is_aspired_any_more() -> None:
    assert next_action(snapshot(1, READY, False)) == unload(1)


def test_of_several_unaspired_serving_versions_the_lowest_goes_first() -> None:
    versions = (snapshot(1, READY, False), snapshot(2, READY, False), snapshot(3, LOADING, True))
    assert next_action(*versions) == unload(1)
    assert next_action(snapshot(2, READY, False), snapshot(3, LOADING, True)) is None


def test_deleting_the_newest_falls_back_without_a_gap() -> None:
    # v2 serves; its folder is deleted so v1 is aspired again and must load first.
    assert next_action(snapshot(2, READY, False), snapshot(1, NEW, True)) == load(1)
    assert next_action(snapshot(2, READY, False), snapshot(1, LOADING, True)) is None
    assert next_action(snapshot(2, READY, False), snapshot(1, READY, True)) == unload(2)


def test_up_to_date_streams_need_nothing() -> None:
    assert next_action(snapshot(1, DISABLED, False), snapshot(2, READY, True)) is None
    assert next_action(snapshot(1, READY, True), snapshot(2, READY, True)) is None


def test_the_policy_is_idempotent() -> None:
    versions = [snapshot(1, READY, False), snapshot(2, NEW, True), snapshot(3, NEW, True)]
    policy = AvailabilityPreservingPolicy()
    assert policy.get_next_action(versions) == policy.get_next_action(versions) == load(3)
