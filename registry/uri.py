"""Registry URIs: a local folder, or `s3://bucket/prefix` on any S3-compatible service."""

from pathlib import Path
from urllib.parse import urlparse

from registry.registry import Registry
from registry.store import VersionStore

S3_SCHEME = "s3"


class RegistryURIError(ValueError):
    """The text is not a registry URI this project understands."""


def is_s3_uri(text: str) -> bool:
    """Whether `text` names an object in an S3-compatible store."""
    return text.startswith(f"{S3_SCHEME}://")


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> (`bucket`, `some/prefix`)."""
    parsed = urlparse(uri)
    if parsed.scheme != S3_SCHEME or not parsed.netloc:
        raise RegistryURIError(f"{uri}: expected s3://BUCKET[/PREFIX]")
    return parsed.netloc, parsed.path.strip("/")


def open_store(uri: str | Path) -> VersionStore:
    """The store a registry URI names (boto3 is imported only for `s3://`)."""
    text = str(uri)
    if is_s3_uri(text):
        from registry.s3_store import S3Store

        return S3Store(*split_s3_uri(text))
    if "://" in text:
        raise RegistryURIError(f"{text}: a registry is a local folder or s3://BUCKET[/PREFIX]")
    from registry.folder_store import FolderStore

    return FolderStore(Path(text))


def open_registry(uri: str | Path) -> Registry:
    """The registry at `uri`: a local folder or `s3://bucket/prefix`."""
    return Registry(open_store(uri))
