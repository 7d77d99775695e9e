"""Making a committed version servable: download beside the base path, verify, rename in.

A version folder appears in the base path only by a rename of a folder whose every file
matched the manifest (size and sha256), so the model server never sees a partial or
corrupt version. Leftovers of an interrupted download (hidden `.sync-*` folders, which
servers ignore) are removed by the next sync.
"""

import shutil
import tempfile
from pathlib import Path

from covertype.durable import fsync_dir, fsync_tree, rename_noreplace
from covertype.versions import version_folders
from registry.errors import IntegrityError
from registry.manifest import Manifest, sha256_of
from registry.store import VersionStore, version_key

WORK_PREFIX = ".sync-"
_VERSION_MODE = 0o755


def materialise(store: VersionStore, manifest: Manifest, base_path: Path) -> Path:
    """Download and verify `manifest`'s version into `base_path/<N>`; return that folder.

    Raises `IntegrityError` (and leaves nothing behind) when a file's size or sha256 differs.
    """
    base_path.mkdir(parents=True, exist_ok=True)
    target = base_path / str(manifest.version)
    work = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{manifest.version}-", dir=base_path))
    try:
        for entry in manifest.files:
            local = work / entry.path
            local.parent.mkdir(parents=True, exist_ok=True)
            store.download(version_key(manifest, entry.path), local)
            size, digest = local.stat().st_size, sha256_of(local)
            if size != entry.size or digest != entry.sha256:
                raise IntegrityError(
                    store.uri,
                    f"version {manifest.version}, file {entry.path}: got {size} bytes with "
                    f"sha256 {digest}, the manifest says {entry.size} bytes with sha256 "
                    f"{entry.sha256}; the version was not installed",
                    "Publish the version again (the stored copy is damaged or was replaced).",
                )
        work.chmod(_VERSION_MODE)
        fsync_tree(work)
        rename_noreplace(work, target)
        fsync_dir(base_path)
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)


def remove_version(base_path: Path, version: int) -> None:
    """Take a version folder out of the base path in one step (rename), then delete it."""
    folder = base_path / str(version)
    doomed = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}removing-{version}-", dir=base_path))
    folder.rename(doomed / "version")
    fsync_dir(base_path)
    shutil.rmtree(doomed, ignore_errors=True)


def clean_leftovers(base_path: Path) -> list[Path]:
    """Remove work folders an interrupted sync left behind; return them."""
    leftovers = (
        [p for p in base_path.glob(f"{WORK_PREFIX}*") if p.is_dir()] if base_path.is_dir() else []
    )
    for folder in leftovers:
        shutil.rmtree(folder, ignore_errors=True)
    return leftovers


def local_versions(base_path: Path) -> set[int]:
    """The version folders present in the base path."""
    return set(version_folders(base_path))
