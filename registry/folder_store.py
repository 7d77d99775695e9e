"""A registry in a local folder: today's `<folder>/<model>/<N>/` layout, committed by rename.

A version is copied into a staging folder beside the versions (a name that is not all
digits, so model servers ignore it), its manifest written inside, and the folder renamed
to the next free number by a rename that never replaces anything: a watcher never sees a
half-written version and two publishers never share a number. Version folders published
before manifests existed are still versions; their manifest is computed from the files.
"""

import os
import re
import shutil
import tempfile
from pathlib import Path

from covertype.defaults import ARCHIVE_SUFFIX
from covertype.durable import (
    atomic_write_bytes,
    exclusive_lock,
    fsync_dir,
    fsync_tree,
    rename_noreplace,
)
from covertype.versions import version_folders
from registry.errors import RegistryNotFound
from registry.manifest import MANIFEST_FILE, Manifest, build_manifest
from registry.store import ManifestFactory

STAGING_PREFIX = ".publishing-"
LOCK_FILE = ".publish.lock"
# Staging folders come from mkdtemp (mode 0700); a published version must be readable by
# a model server running as another user, as folders made by os.mkdir normally are.
_VERSION_MODE = 0o755
_ARCHIVED = re.compile(r"(\d+)(?:-.*)?")


class FolderStore:
    """A registry rooted at a local folder."""

    conditional_writes = True

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()
        self.uri = str(self.root)

    def check(self) -> None:
        """Raise `RegistryNotFound` unless the folder exists."""
        if not self.root.is_dir():
            raise RegistryNotFound(
                self.uri, "the registry folder does not exist", "Create it or publish a version."
            )

    def read(self, key: str) -> bytes | None:
        """The file's bytes, or None."""
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            return None

    def exists(self, key: str) -> bool:
        """Whether the file exists."""
        return (self.root / key).is_file()

    def write(self, key: str, data: bytes, *, if_absent: bool = False) -> bool:
        """Write atomically; with `if_absent`, link the new file in so it never replaces one."""
        path = self.root / key
        if not if_absent:
            atomic_write_bytes(path, data)
            return True
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
            try:
                os.link(temp.name, path)
            except FileExistsError:
                return False
        fsync_dir(path.parent)
        return True

    def keys(self, prefix: str) -> list[str]:
        """Every file under the folder `prefix` names (hidden temp files excluded)."""
        folder = self.root / prefix
        if not folder.is_dir():
            return []
        return sorted(
            path.relative_to(self.root).as_posix()
            for path in folder.rglob("*")
            if path.is_file() and not path.name.startswith(".")
        )

    def upload(self, key: str, path: Path) -> None:
        """Copy a file in (atomically)."""
        atomic_write_bytes(self.root / key, Path(path).read_bytes())

    def download(self, key: str, path: Path) -> None:
        """Copy a file out."""
        shutil.copyfile(self.root / key, path)

    def location(self, key: str) -> str:
        """The file's absolute path."""
        return str(self.root / key)

    def commit_version(self, model_name: str, folder: Path, manifest_for: ManifestFactory) -> int:
        """Copy `folder` to `<root>/<model>/<N>` with its manifest, by one rename; return N."""
        model_dir = self.root / model_name
        model_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=model_dir))
        try:
            shutil.copytree(folder, staging, dirs_exist_ok=True)
            os.chmod(staging, _VERSION_MODE)
            with exclusive_lock(model_dir / LOCK_FILE):
                version = self.next_version(model_name)
                while True:
                    manifest = manifest_for(version, f"{model_name}/{version}")
                    (staging / MANIFEST_FILE).write_bytes(manifest.to_json())
                    fsync_tree(staging)
                    try:
                        rename_noreplace(staging, model_dir / str(version))
                    except FileExistsError:
                        # Taken by a writer outside the lock, or by a file with a numeric name.
                        version = max(version + 1, self.next_version(model_name))
                        continue
                    fsync_dir(model_dir)
                    return version
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def next_version(self, model_name: str) -> int:
        """One more than the highest version ever published, served or archived; 1 when none.

        Versions moved to `<model>.archive/` (as `N` or `N-<run>`) count, so a number,
        which every prediction names, never stands for two models.
        """
        archive = self.root / f"{model_name}{ARCHIVE_SUFFIX}"
        archived = [
            int(match.group(1))
            for entry in (archive.iterdir() if archive.is_dir() else ())
            if (match := _ARCHIVED.fullmatch(entry.name))
        ]
        served = version_folders(self.root / model_name)
        return max([*served, *archived], default=0) + 1

    def manifests(self, model_name: str, known: dict[int, Manifest]) -> dict[int, Manifest]:
        """The manifest of every version folder (computed for folders published without one)."""
        found = {}
        for version, folder in version_folders(self.root / model_name).items():
            if version in known:
                found[version] = known[version]
                continue
            raw = self.read(f"{model_name}/{version}/{MANIFEST_FILE}")
            files_prefix = f"{model_name}/{version}"
            found[version] = (
                Manifest.from_json(raw)
                if raw is not None
                else build_manifest(folder, version, files_prefix, publisher="")
            )
        return found
