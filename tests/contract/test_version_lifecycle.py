"""Versions coming and going on disk: life cycle, hot swap, broken and incomplete folders."""

import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np

from tests.contract.conftest import ServerFactory, Target
from tests.contract.serving_api import VersionStatus, publish, wait_until

SWAP_DEADLINE_SECONDS = 3.0


@dataclass
class LoopingClient:
    """Predicts in a loop (bounded in time and count), recording versions and failures."""

    target: Target
    rows: np.ndarray
    answers: list[tuple[float, int]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, max_seconds: float = 60, max_calls: int = 20_000) -> None:
        deadline = time.monotonic() + max_seconds
        while (
            not self.stop.is_set() and time.monotonic() < deadline and len(self.answers) < max_calls
        ):
            try:
                response = self.target.client.predict(self.rows, timeout=10)
                self.answers.append((time.monotonic(), response.model_spec.version.value))
            except grpc.RpcError as error:
                self.failures.append(f"{error.code().name}: {error.details()}")

    def __enter__(self) -> "LoopingClient":
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self._thread.join(timeout=30)

    def first_answer_from(self, version: int) -> float | None:
        return next((t for t, v in self.answers if v == version), None)


def states(target: Target) -> dict[int, VersionStatus]:
    return target.client.statuses()


def shows(target: Target, **expected: str) -> bool:
    """Whether the listed versions (v1=..., v2=...) are in these states, none other AVAILABLE.

    Only the versions named are compared: a long-running server also remembers the
    END states of versions earlier tests used.
    """
    current = {f"v{v}": s.state for v, s in states(target).items()}
    others_available = any(
        state == "AVAILABLE" for name, state in current.items() if name not in expected
    )
    return not others_available and all(current.get(n) == state for n, state in expected.items())


def test_status_through_a_full_life_cycle(
    fresh_server: ServerFactory, saved_model: Path, rows: np.ndarray
) -> None:
    target = fresh_server(versions=[1])
    assert shows(target, v1="AVAILABLE")

    publish(saved_model, target.base_path, 2)
    wait_until(lambda: shows(target, v1="END", v2="AVAILABLE"), 30, "version 2 AVAILABLE and 1 END")
    assert states(target)[1].error_code == 0
    assert target.client.predict(rows).model_spec.version.value == 2

    shutil.rmtree(target.base_path / "2")
    wait_until(
        lambda: shows(target, v1="AVAILABLE", v2="END"), 30, "version 1 AVAILABLE again, 2 END"
    )
    assert target.client.predict(rows).model_spec.version.value == 1


def test_hot_swap_without_failed_calls(
    fresh_server: ServerFactory, saved_model: Path, rows: np.ndarray
) -> None:
    target = fresh_server(versions=[1])
    with LoopingClient(target, rows[:1]) as client:
        wait_until(lambda: len(client.answers) >= 20, 30, "the client to get going")
        published_at = time.monotonic()
        publish(saved_model, target.base_path, 2)
        wait_until(lambda: client.first_answer_from(2), 30, "an answer from version 2")
        time.sleep(0.5)  # keep calling while version 1 is unloaded
    assert client.failures == []
    first_new = client.first_answer_from(2)
    assert first_new is not None
    assert first_new - published_at <= SWAP_DEADLINE_SECONDS, (
        f"version 2 answered {first_new - published_at:.2f} s after it was published"
    )
    versions = [v for _, v in client.answers]
    assert versions == sorted(versions), "an answer from version 1 came after version 2"


def write_broken_version(saved_model: Path, base_path: Path, version: int) -> None:
    staging = base_path / f".staging-{uuid.uuid4().hex}"
    shutil.copytree(saved_model, staging)
    (staging / "saved_model.pb").write_bytes(b"this is not a SavedModel")
    os.rename(staging, base_path / str(version))


def test_a_broken_version_leaves_the_old_one_serving(
    fresh_server: ServerFactory, saved_model: Path, rows: np.ndarray
) -> None:
    target = fresh_server(versions=[1])
    with LoopingClient(target, rows[:1]) as client:
        write_broken_version(saved_model, target.base_path, 2)
        broken = wait_until(
            lambda: (s := states(target).get(2)) is not None and s.state == "END" and s,
            60,
            "version 2 to end with an error",
        )
    assert broken.error_code != 0
    assert broken.error_message
    assert states(target)[1].state == "AVAILABLE"
    assert client.failures == []
    assert {v for _, v in client.answers} == {1}
    assert target.client.predict(rows).model_spec.version.value == 1


def test_an_incomplete_version_is_not_served(
    fresh_server: ServerFactory, saved_model: Path, rows: np.ndarray
) -> None:
    target = fresh_server(versions=[1])
    incomplete = target.base_path / "2"
    incomplete.mkdir()
    shutil.copy(saved_model / "saved_model.pb", incomplete / "saved_model.pb")  # no variables/
    time.sleep(3.5)  # a few polls
    status = states(target).get(2)
    assert status is None or status.state != "AVAILABLE"
    assert states(target)[1].state == "AVAILABLE"
    assert target.client.predict(rows).model_spec.version.value == 1


def test_deleting_the_newest_version_falls_back_to_the_previous(
    fresh_server: ServerFactory, rows: np.ndarray
) -> None:
    target = fresh_server(versions=[1, 2])
    assert target.client.predict(rows).model_spec.version.value == 2
    with LoopingClient(target, rows[:1]) as client:
        wait_until(lambda: len(client.answers) >= 20, 30, "the client to get going")
        shutil.rmtree(target.base_path / "2")
        wait_until(lambda: client.first_answer_from(1), 30, "an answer from version 1")
    assert client.failures == []
    assert target.client.predict(rows).model_spec.version.value == 1
    wait_until(lambda: states(target)[2].state == "END", 30, "version 2 END")
