"""Atomic publication of a SavedModel folder as the next numbered version.

A version appears in one step: the candidate is copied into a staging folder beside the
versions (a name that is not all digits, so model servers ignore it) and then renamed to
the next free number with a rename that refuses to replace anything. A watcher therefore
never sees a half-written version, an existing version is never overwritten, and
concurrent publishers end up with distinct numbers.
"""

import ctypes
import ctypes.util
import errno
import fcntl
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from covertype.defaults import ARCHIVE_SUFFIX, ASSETS_EXTRA, MODEL_NAME, WARMUP_FILE

STAGING_PREFIX = ".publishing-"
LOCK_FILE = ".publish.lock"
_VERSION_NAME = re.compile(r"[0-9]+")
_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
# Staging folders come from mkdtemp (mode 0700); a published version must be readable by
# a model server running as another user, as folders made by os.mkdir normally are.
_VERSION_MODE = 0o755


class IncompleteCandidateError(ValueError):
    """The folder offered for publication is not a complete SavedModel version."""


def existing_versions(model_dir: Path) -> list[int]:
    """The version numbers present in `model_dir` (all-digit folder names), ascending."""
    if not model_dir.is_dir():
        return []
    return sorted(
        int(entry.name)
        for entry in model_dir.iterdir()
        if _VERSION_NAME.fullmatch(entry.name) and entry.is_dir()
    )


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
        _sync_tree(staging)
        with _publish_lock(model_dir):
            version = next_version(model_dir)
            while True:
                try:
                    rename_noreplace(staging, model_dir / str(version))
                except FileExistsError:
                    # Taken by a writer outside the lock, or by a file with a numeric name.
                    version = max(version + 1, next_version(model_dir))
                    continue
                _fsync_dir(model_dir)
                return version
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def rename_noreplace(source: Path, target: Path) -> None:
    """Rename `source` to `target`, raising `FileExistsError` if `target` exists in any form.

    Uses Linux `renameat2(RENAME_NOREPLACE)`, which the kernel performs atomically. A plain
    `os.rename` of a folder silently replaces an existing empty folder, so where
    `renameat2` is unavailable the fallback checks first; callers hold the publish lock,
    which makes that check safe among publishers.
    """
    if _renameat2 is not None:
        result = _renameat2(
            _AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), _RENAME_NOREPLACE
        )
        if result == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise OSError(err, os.strerror(err), str(target))
    if os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target))
    os.rename(source, target)


def _load_renameat2() -> Callable[..., int] | None:
    """`renameat2` from the C library, or None where the C library does not offer it."""
    library = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    function = getattr(library, "renameat2", None)
    if function is None:
        return None
    path, directory = ctypes.c_char_p, ctypes.c_int
    function.argtypes = (directory, path, directory, path, ctypes.c_uint)
    function.restype = ctypes.c_int
    return function


_renameat2 = _load_renameat2()


@contextmanager
def _publish_lock(model_dir: Path) -> Iterator[None]:
    """Serialise publishers of one model (processes and threads alike) with `flock`."""
    with open(model_dir / LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _sync_tree(root: Path) -> None:
    """Flush every file under `root` to disk so a crash cannot publish empty files."""
    for directory, _, files in os.walk(root):
        for name in files:
            descriptor = os.open(os.path.join(directory, name), os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        _fsync_dir(Path(directory))


def _fsync_dir(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
