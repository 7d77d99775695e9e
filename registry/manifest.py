"""The manifest: the object whose presence commits a version.

It lists every file of the version (path, size, sha256), where the files are stored,
and a summary of the model card. A version is what its manifest says, nothing more.
"""

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from covertype.defaults import ASSETS_EXTRA, METRICS_FILE

MANIFEST_FILE = "manifest.json"
FORMAT = 1
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileEntry:
    """One file of a version: its path inside the version folder, size and sha256."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class CardSummary:
    """What the model card says in brief."""

    accuracy: float | None = None
    macro_f1: float | None = None
    data_uri: str | None = None
    data_fingerprint: str | None = None
    created: str | None = None


@dataclass(frozen=True)
class Manifest:
    """A committed version: number, files, card summary, publication time and publisher."""

    version: int
    files: tuple[FileEntry, ...]
    card: CardSummary
    files_prefix: str
    published: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    publisher: str = ""

    def to_json(self) -> bytes:
        """Serialise (sorted keys, so equal manifests give equal bytes)."""
        data = {"format": FORMAT, **asdict(self)}
        return json.dumps(data, sort_keys=True, indent=1).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> "Manifest":
        """Parse what `to_json` wrote."""
        data = json.loads(raw)
        return cls(
            version=int(data["version"]),
            files=tuple(FileEntry(**entry) for entry in data["files"]),
            card=CardSummary(**data["card"]),
            files_prefix=data["files_prefix"],
            published=data["published"],
            publisher=data.get("publisher", ""),
        )

    @property
    def size(self) -> int:
        """Total bytes of the version's files."""
        return sum(entry.size for entry in self.files)


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_entries(folder: Path) -> tuple[FileEntry, ...]:
    """Every file under `folder` (but a manifest) with its size and sha256, sorted by path."""
    return tuple(
        FileEntry(path.relative_to(folder).as_posix(), path.stat().st_size, sha256_of(path))
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.relative_to(folder).as_posix() != MANIFEST_FILE
    )


def card_summary(folder: Path) -> CardSummary:
    """The summary of the model card in `folder/assets.extra/metrics.json` (empty if absent)."""
    try:
        card: dict[str, Any] = json.loads((folder / ASSETS_EXTRA / METRICS_FILE).read_text())
    except (OSError, ValueError):
        return CardSummary()
    return CardSummary(
        accuracy=card.get("accuracy"),
        macro_f1=card.get("macro_f1"),
        data_uri=card.get("data_uri") or card.get("data_source"),
        data_fingerprint=card.get("data_fingerprint"),
        created=card.get("created"),
    )


def build_manifest(folder: Path, version: int, files_prefix: str, publisher: str) -> Manifest:
    """The manifest of the version folder `folder`, to be committed as `version`."""
    return Manifest(
        version=version,
        files=file_entries(folder),
        card=card_summary(folder),
        files_prefix=files_prefix,
        publisher=publisher,
    )
