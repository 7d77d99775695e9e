"""The version policy: a pure function from every version's state to the next action.

As in TF Serving's aspired_version_policy.h, the policy is stateless and
idempotent: the same snapshots always give the same answer. All state lives in the
source (which versions are aspired) and the manager (what each version is doing).
"""

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from tfserving.core.loader_harness import HarnessState
from tfserving.core.servable_id import ServableId


class Action(enum.Enum):
    """What the manager should do to one version."""

    LOAD = "load"
    UNLOAD = "unload"


@dataclass(frozen=True)
class AspiredServableStateSnapshot:
    """One version of a servable stream: its state and whether the source aspires it."""

    id: ServableId
    state: HarnessState
    is_aspired: bool


@dataclass(frozen=True)
class ServableAction:
    """The next action and the version it applies to."""

    action: Action
    id: ServableId


def highest_aspired_new_version(
    all_versions: Sequence[AspiredServableStateSnapshot],
) -> ServableId | None:
    """The aspired version with the highest number that has not been loaded yet."""
    new = [v.id for v in all_versions if v.is_aspired and v.state is HarnessState.NEW]
    return max(new, key=lambda servable_id: servable_id.version, default=None)


class AvailabilityPreservingPolicy:
    """Never leave a stream without a serving version while a newer one loads.

    An un-aspired version that is READY is unloaded only once an aspired version is
    READY (or nothing is aspired at all, or several un-aspired ones are still
    serving, which one of them can cover); the lowest goes first. Otherwise the
    highest new aspired version is loaded. So a new version is loaded (and warmed
    up) before the old one is unloaded, and a failed load leaves the old serving.
    """

    def get_next_action(
        self, all_versions: Sequence[AspiredServableStateSnapshot]
    ) -> ServableAction | None:
        """The next action for one servable stream, or None when it is up to date."""
        has_aspired = any(v.is_aspired for v in all_versions)
        has_aspired_serving = any(
            v.is_aspired and v.state is HarnessState.READY for v in all_versions
        )
        unaspired_serving = [
            v.id for v in all_versions if not v.is_aspired and v.state is HarnessState.READY
        ]
        if unaspired_serving and (
            not has_aspired or has_aspired_serving or len(unaspired_serving) > 1
        ):
            lowest = min(unaspired_serving, key=lambda servable_id: servable_id.version)
            return ServableAction(Action.UNLOAD, lowest)
        to_load = highest_aspired_new_version(all_versions)
        if to_load is not None:
            return ServableAction(Action.LOAD, to_load)
        return None
