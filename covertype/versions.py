"""Version folders: a folder named only by digits (at most int64) is a model version."""

from pathlib import Path

from covertype.defaults import MAX_VERSION


def parse_version(folder_name: str) -> int | None:
    """The version number of a folder name made only of digits, else None."""
    if not folder_name.isascii() or not folder_name.isdigit():
        return None
    version = int(folder_name)
    return version if version <= MAX_VERSION else None


def version_folders(base_path: Path) -> dict[int, Path]:
    """Every version folder directly under `base_path`, by number (empty if it is absent)."""
    if not base_path.is_dir():
        return {}
    found = {}
    for entry in base_path.iterdir():
        version = parse_version(entry.name)
        if version is not None and entry.is_dir():
            found[version] = entry
    return dict(sorted(found.items()))
