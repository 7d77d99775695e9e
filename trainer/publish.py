"""Publishing a trained SavedModel folder as the next numbered version of a registry.

The trainer checks that the folder is a complete version; the registry (`registry/`)
commits it: in a local folder by one rename that never replaces anything (a watcher never
sees a half-written version, concurrent publishers get distinct numbers), in a bucket by
a manifest written last.
"""

from pathlib import Path

from covertype.defaults import ASSETS_EXTRA, MODEL_NAME, WARMUP_FILE
from covertype.versions import version_folders
from registry.folder_store import FolderStore
from registry.uri import open_registry


class IncompleteCandidateError(ValueError):
    """The folder offered for publication is not a complete SavedModel version."""


def existing_versions(model_dir: Path) -> list[int]:
    """The version numbers present in `model_dir` (all-digit folder names), ascending."""
    return list(version_folders(model_dir))


def next_version(model_dir: Path) -> int:
    """One more than the highest version ever published, served or archived; 1 when none."""
    return FolderStore(model_dir.parent).next_version(model_dir.name)


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


def publish_version(
    candidate_path: Path, registry: Path | str, model_name: str = MODEL_NAME
) -> int:
    """Publish a complete version folder into a registry (a models folder or `s3://...`).

    In a folder, the version appears as `<folder>/<model_name>/<N>` in one rename; in a
    bucket, once its manifest is committed. The candidate folder itself is left untouched.
    """
    candidate_path = Path(candidate_path)
    check_complete(candidate_path)
    return open_registry(registry).publish(candidate_path, model_name)
