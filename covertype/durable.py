"""Durable file system steps shared by every writer: fsync, atomic writes, renames, flock.

A crash at any moment leaves either the old state or the new one: files are written
beside their target, flushed, renamed into place, and the folder is flushed too.
"""

import ctypes
import ctypes.util
import errno
import fcntl
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1


def fsync_dir(directory: Path) -> None:
    """Flush a folder's entries (new, renamed or removed names) to disk."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_tree(root: Path) -> None:
    """Flush every file and folder under `root` to disk."""
    for directory, _, files in os.walk(root):
        for name in files:
            descriptor = os.open(os.path.join(directory, name), os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        fsync_dir(Path(directory))


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` in one step (temp file beside it, fsync, rename, fsync)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def rename_noreplace(source: Path, target: Path) -> None:
    """Rename `source` to `target`, raising `FileExistsError` if `target` exists in any form.

    Uses Linux `renameat2(RENAME_NOREPLACE)`, which the kernel performs atomically. A plain
    `os.rename` of a folder silently replaces an existing empty folder, so where
    `renameat2` is unavailable the fallback checks first; callers hold a lock, which
    makes that check safe among themselves.
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


def flock_within(descriptor: int, timeout: float | None, poll_seconds: float = 0.2) -> bool:
    """Take an exclusive `flock` on an open file, waiting at most `timeout` seconds (None:
    as long as it takes); False when the time ran out."""
    if timeout is None:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        return True
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll_seconds)


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive `flock` on `path` (created if needed), processes and threads alike."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        flock_within(descriptor, None)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


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
