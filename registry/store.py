"""What the registry needs from where it keeps things, and the names it keeps them under.

Two stores implement `VersionStore`: a local folder (`registry.folder_store`) and any
S3-compatible bucket (`registry.s3_store`). Small objects (events, data) share one key
space; versions are committed the way each store can do atomically.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from registry.manifest import Manifest

DATA_PREFIX = "data/sha256/"

# (version number, prefix of the version's files) -> its manifest
ManifestFactory = Callable[[int, str], Manifest]


def registry_prefix(model_name: str) -> str:
    """Where a model's registry objects live: `<model>.registry/`."""
    return f"{model_name}.registry/"


def version_key(manifest: Manifest, path: str) -> str:
    """The key of file `path` of a committed version."""
    return f"{manifest.files_prefix}/{path}"


def events_prefix(model_name: str) -> str:
    """One object per release event, named so that keys sort by time."""
    return f"{registry_prefix(model_name)}events/"


class VersionStore(Protocol):
    """A folder or a bucket holding versions, small objects and data files."""

    uri: str
    conditional_writes: bool

    def check(self) -> None:
        """Raise a `RegistryError` unless the store answers and the location exists."""
        ...

    def read(self, key: str) -> bytes | None:
        """The object's bytes, or None when it does not exist."""
        ...

    def exists(self, key: str) -> bool:
        """Whether the object exists."""
        ...

    def write(self, key: str, data: bytes, *, if_absent: bool = False) -> bool:
        """Store an object; with `if_absent`, False (and nothing written) if it exists."""
        ...

    def keys(self, prefix: str) -> list[str]:
        """Every key under `prefix`, sorted."""
        ...

    def upload(self, key: str, path: Path) -> None:
        """Store the file at `path` as `key`."""
        ...

    def download(self, key: str, path: Path) -> None:
        """Write the object `key` to the file `path`."""
        ...

    def commit_version(self, model_name: str, folder: Path, manifest_for: ManifestFactory) -> int:
        """Store `folder` as the next version, committed by its manifest; return its number."""
        ...

    def manifests(self, model_name: str, known: dict[int, Manifest]) -> dict[int, Manifest]:
        """Every committed version's manifest (reusing `known`, since manifests never change)."""
        ...

    def location(self, key: str) -> str:
        """The URI of an object, e.g. for the data a model card records."""
        ...
