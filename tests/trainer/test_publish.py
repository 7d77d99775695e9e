"""Version numbering and the atomic publish: never partial, never overwritten, never shared."""

import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from covertype.defaults import MODEL_NAME
from covertype.durable import rename_noreplace
from registry.folder_store import STAGING_PREFIX
from registry.manifest import MANIFEST_FILE, Manifest, sha256_of
from tests.conftest import REPO_ROOT
from trainer.publish import (
    IncompleteCandidateError,
    existing_versions,
    publish_version,
)


def files_in(folder: Path) -> dict[str, int]:
    """Relative path -> size of every file under `folder`, but the registry's manifest."""
    return {
        str(p.relative_to(folder)): p.stat().st_size
        for p in folder.rglob("*")
        if p.is_file() and p.name != MANIFEST_FILE
    }


def test_a_published_folder_carries_the_manifest_of_its_files(
    tiny_candidate: Any, tmp_path: Path
) -> None:
    version = publish_version(tiny_candidate.path, tmp_path)
    folder = tmp_path / MODEL_NAME / str(version)
    manifest = Manifest.from_json((folder / MANIFEST_FILE).read_bytes())
    assert manifest.version == version
    assert {f.path: f.size for f in manifest.files} == files_in(tiny_candidate.path)
    assert all(sha256_of(folder / f.path) == f.sha256 for f in manifest.files)
    assert manifest.card.accuracy == tiny_candidate.metrics["accuracy"]


def test_numbers_start_at_one_and_follow_the_highest(tiny_candidate: Any, tmp_path: Path) -> None:
    assert publish_version(tiny_candidate.path, tmp_path) == 1
    assert publish_version(tiny_candidate.path, tmp_path) == 2
    model_dir = tmp_path / MODEL_NAME
    (model_dir / "41").mkdir()
    for ignored in ("tmp", "12abc", ".publishing-999", "1000.bak"):
        (model_dir / ignored).mkdir()
    (model_dir / "5000").write_text("a file, not a version")
    assert publish_version(tiny_candidate.path, tmp_path) == 42
    assert existing_versions(model_dir) == [1, 2, 41, 42]
    (model_dir / "43").write_text("a file whose name is the next number")
    assert publish_version(tiny_candidate.path, tmp_path) == 44


def test_published_folder_is_a_complete_copy(tiny_candidate: Any, tmp_path: Path) -> None:
    version = publish_version(tiny_candidate.path, tmp_path, "other-model")
    published = tmp_path / "other-model" / str(version)
    assert files_in(published) == files_in(tiny_candidate.path)
    assert published.stat().st_mode & 0o777 == 0o755
    assert files_in(tiny_candidate.path), "the candidate itself is left in place"


def test_existing_versions_are_never_overwritten(tiny_candidate: Any, tmp_path: Path) -> None:
    existing = tmp_path / MODEL_NAME / "3"
    existing.mkdir(parents=True)
    (existing / "marker").write_text("version 3")
    assert publish_version(tiny_candidate.path, tmp_path) == 4
    assert [p.name for p in existing.iterdir()] == ["marker"]


def test_rename_refuses_an_existing_empty_folder(tmp_path: Path) -> None:
    """A plain os.rename would silently replace an empty target folder."""
    source, target = tmp_path / "source", tmp_path / "7"
    source.mkdir()
    (source / "saved_model.pb").write_text("x")
    target.mkdir()
    with pytest.raises(FileExistsError):
        rename_noreplace(source, target)
    assert list(target.iterdir()) == []
    assert (source / "saved_model.pb").exists()


def test_incomplete_candidate_is_refused(tiny_candidate: Any, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes((tiny_candidate.path / "saved_model.pb").read_bytes())
    with pytest.raises(IncompleteCandidateError, match=r"variables/variables\.index"):
        publish_version(broken, tmp_path / "models")
    assert existing_versions(tmp_path / "models" / MODEL_NAME) == []


def test_no_partial_version_is_ever_visible(tiny_candidate: Any, tmp_path: Path) -> None:
    """A watcher polling the base path only ever sees complete version folders.

    The candidate gets a 32 MB asset so that each copy takes long enough for a watcher
    to catch a folder mid-copy if it were ever visible under its number.
    """
    candidate = tmp_path / "candidate"
    shutil.copytree(tiny_candidate.path, candidate)
    (candidate / "assets.extra" / "padding.bin").write_bytes(os.urandom(32 << 20))
    expected = files_in(candidate)
    model_dir = tmp_path / "models" / MODEL_NAME
    model_dir.mkdir(parents=True)
    incomplete: list[tuple[int, dict[str, int]]] = []
    looks = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal looks
        while not done.is_set():
            for version in existing_versions(model_dir):
                content = files_in(model_dir / str(version))
                looks += 1
                if content != expected:
                    incomplete.append((version, content))

    def publish(_: int) -> int:
        return publish_version(candidate, model_dir.parent)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            versions = list(pool.map(publish, range(6)))
    finally:
        done.set()
        watcher.join(timeout=30)
    assert incomplete == []
    assert sorted(versions) == list(range(1, 7))
    assert looks > 0, "the watcher saw versions appear"
    assert not [p for p in model_dir.iterdir() if p.name.startswith(STAGING_PREFIX)]


PUBLISHER = """
import sys, time
from pathlib import Path
from trainer.publish import publish_version
start = float(sys.argv[3])
time.sleep(max(0.0, start - time.time()))
print(" ".join(str(publish_version(Path(sys.argv[1]), Path(sys.argv[2]))) for _ in range(3)))
"""


def test_concurrent_processes_get_distinct_numbers(tiny_candidate: Any, tmp_path: Path) -> None:
    start = time.time() + 2.0  # all processes are up by then and begin together
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", PUBLISHER, str(tiny_candidate.path), str(tmp_path), str(start)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    versions: list[int] = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        versions += [int(v) for v in out.split()]
    assert sorted(versions) == list(range(1, 13))
    expected = files_in(tiny_candidate.path)
    for version in versions:
        assert files_in(tmp_path / MODEL_NAME / str(version)) == expected


def test_archived_version_numbers_are_never_reused(tmp_path: Path) -> None:
    from trainer.publish import next_version

    model_dir = tmp_path / "covertype"
    (model_dir / "1").mkdir(parents=True)
    (tmp_path / "covertype.archive" / "3-run7").mkdir(parents=True)
    (tmp_path / "covertype.archive" / "2").mkdir()
    assert next_version(model_dir) == 4
