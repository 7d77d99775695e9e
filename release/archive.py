"""Versions on disk: listing the base path, and moving versions aside into the archive.

A version leaves service by a rename into `<models-dir>/<model>.archive/`, beside
the base path (never deleted). The archived folder keeps its number as its name, or
`<N>-<suffix>` when that number was archived before.
"""

import os
from pathlib import Path

from covertype.defaults import ARCHIVE_SUFFIX
from covertype.versions import version_folders


def base_path(models_dir: Path, model_name: str) -> Path:
    """The folder the model server watches: `<models-dir>/<model>`."""
    return models_dir / model_name


def archive_path(models_dir: Path, model_name: str) -> Path:
    """Where versions taken out of service go: `<models-dir>/<model>.archive`."""
    return models_dir / f"{model_name}{ARCHIVE_SUFFIX}"


def versions_on_disk(models_dir: Path, model_name: str) -> list[int]:
    """The version numbers in the base path (all-digit folder names), ascending."""
    return list(version_folders(base_path(models_dir, model_name)))


def archived_folders(models_dir: Path, model_name: str) -> list[Path]:
    """Every archived version folder, oldest first."""
    folder = archive_path(models_dir, model_name)
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)


def archive_version(models_dir: Path, model_name: str, version: int, suffix: str) -> Path:
    """Move version `version` out of the base path; return where it went."""
    source = base_path(models_dir, model_name) / str(version)
    if not source.is_dir():
        raise FileNotFoundError(f"version {version} is not in {source.parent}")
    archive = archive_path(models_dir, model_name)
    archive.mkdir(parents=True, exist_ok=True)
    target = archive / str(version)
    if target.exists():
        target = archive / f"{version}-{suffix}"
    # rename(2) is atomic on one file system: the server sees the version or nothing.
    os.rename(source, target)
    return target
