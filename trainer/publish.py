"""Atomic publication of a SavedModel folder as the next numbered version.

A version appears in one step: the candidate is copied into a staging folder beside the
versions (a name that is not all digits, so model servers ignore it) and then renamed to
the next free number with a rename that refuses to replace anything. A watcher therefore
never sees a half-written version, an existing version is never overwritten, and
concurrent publishers end up with distinct numbers.
"""

import os
import re
import shutil
import tempfile
from pathlib import Path

from covertype.defaults import ARCHIVE_SUFFIX, ASSETS_EXTRA, MODEL_NAME, WARMUP_FILE
from covertype.durable import exclusive_lock, fsync_dir, fsync_tree, rename_noreplace
from covertype.versions import version_folders

STAGING_PREFIX = ".publishing-"
LOCK_FILE = ".publish.lock"
# Staging folders come from mkdtemp (mode 0700); a published version must be readable by
# a model server running as another user, as folders made by os.mkdir normally are.
_VERSION_MODE = 0o755


class IncompleteCandidateError(ValueError):
    """The folder offered for publication is not a complete SavedModel version."""


def existing_versions(model_dir: Path) -> list[int]:
    """The version numbers present in `model_dir` (all-digit folder names), ascending."""
    return list(version_folders(model_dir))


def next_version(model_dir: Path) -> int:
    """One more than the highest version ever published, served or archived; 1 when none.

    Rolled-back versions move to `<model>.archive/` as `N` or `N-<run>`; counting them
    means a number, which every prediction names, never stands for two models.
    """
    archive = model_dir.parent / f"{model_dir.name}{ARCHIVE_SUFFIX}"
    archived = [
        int(match.group(1))
        for entry in (archive.iterdir() if archive.is_dir() else ())
        if (match := re.fullmatch(r"(\d+)(?:-.*)?", entry.name))
    ]
    return max([*existing_versions(model_dir), *archived], default=0) + 1


def check_complete(candidate: Path) -> None:
    """Raise `IncompleteCandidateError` unless `candidate` holds everything a version needs."""
    required = (
        candidate / "saved_model.pb",
        candidate / "variables" / "variables.index",
        candidate / ASSETS_EXTRA / WARMUP_FILE,
    )
    missing = [str(path.relative_to(candidate)) for path in required if not path.is_file()]
    if missing:
        raise IncompleteCandidateError(
            f"{candidate} is not a complete model version: missing {', '.join(missing)}"
        )


def publish_version(candidate_path: Path, models_dir: Path, model_name: str = MODEL_NAME) -> int:
    """Copy `candidate_path` to `models_dir/model_name/<N>` atomically; return N.

    N is one more than the highest version present at the moment of the rename. The
    candidate folder itself is left untouched.
    """
    candidate_path = Path(candidate_path)
    check_complete(candidate_path)
    model_dir = Path(models_dir) / model_name
    model_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=model_dir))
    try:
        shutil.copytree(candidate_path, staging, dirs_exist_ok=True)
        os.chmod(staging, _VERSION_MODE)
        fsync_tree(staging)
        with exclusive_lock(model_dir / LOCK_FILE):
            version = next_version(model_dir)
            while True:
                try:
                    rename_noreplace(staging, model_dir / str(version))
                except FileExistsError:
                    # Taken by a writer outside the lock, or by a file with a numeric name.
                    version = max(version + 1, next_version(model_dir))
                    continue
                fsync_dir(model_dir)
                return version
    finally:
        shutil.rmtree(staging, ignore_errors=True)
