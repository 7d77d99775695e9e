"""One release operation at a time per model: publish+verify, rollback and label changes.

They read, change and write `models.config` and move version folders; two at once
could lose an update. The lock is `flock` on `<models-dir>/<model>.release.lock`,
re-entrant within a process (a failed verification rolls back while holding it).
"""

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from covertype.durable import flock_within

POLL_SECONDS = 0.2

_held: dict[Path, int] = {}
_guard = threading.RLock()


class LockTimeout(Exception):
    """Another release operation kept the lock past the deadline."""


def lock_path(models_dir: Path, model_name: str) -> Path:
    """`<models-dir>/<model>.release.lock`."""
    return models_dir / f"{model_name}.release.lock"


@contextmanager
def release_lock(models_dir: Path, model_name: str, timeout: float = 300.0) -> Iterator[None]:
    """Hold the model's release lock, waiting up to `timeout` seconds for it."""
    path = lock_path(models_dir, model_name).resolve()
    with _guard:
        if _held.get(path):
            _held[path] += 1
            try:
                yield
            finally:
                _held[path] -= 1
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if not flock_within(fd, timeout, POLL_SECONDS):
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                raise LockTimeout(
                    f"another release, rollback or label change (pid {holder}) has held "
                    f"{path} for over {timeout:g} s"
                )
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            _held[path] = 1
            try:
                yield
            finally:
                _held.pop(path, None)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
