"""The release lock: one operation at a time per model, across processes; re-entrant within one."""

import multiprocessing
from pathlib import Path

import pytest

from release.lock import LockTimeout, release_lock


def _hold(models_dir: str, held: object, release: object) -> None:
    with release_lock(Path(models_dir), "covertype"):
        held.set()  # type: ignore[attr-defined]
        release.wait(60)  # type: ignore[attr-defined]


def test_a_second_process_waits_and_then_gets_the_lock(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    held, release = context.Event(), context.Event()
    holder = context.Process(target=_hold, args=(str(tmp_path), held, release))
    holder.start()
    try:
        assert held.wait(60)
        with (
            pytest.raises(LockTimeout, match=f"pid {holder.pid}"),
            release_lock(tmp_path, "covertype", timeout=0.5),
        ):
            pass
        release.set()
        with release_lock(tmp_path, "covertype", timeout=30):
            pass
    finally:
        release.set()
        holder.join(timeout=30)
    assert holder.exitcode == 0


def test_re_entrant_within_a_process(tmp_path: Path) -> None:
    with release_lock(tmp_path, "covertype"), release_lock(tmp_path, "covertype", timeout=0.5):
        pass
    with release_lock(tmp_path, "covertype", timeout=0.5):
        pass


def test_a_missing_models_dir_is_not_created(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), release_lock(tmp_path / "absent", "covertype"):
        pass
    assert not (tmp_path / "absent").exists()
