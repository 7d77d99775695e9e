"""Training data in the registry, content-addressed: `<registry>/data/sha256/<hex digest>`.

The same file pushed twice is stored once; a file fetched back is checked against its
name, so a model card's data URI always means exactly one file.
"""

import tempfile
from pathlib import Path

from registry.errors import IntegrityError, RegistryNotFound
from registry.manifest import sha256_of
from registry.store import DATA_PREFIX
from registry.uri import RegistryURIError, open_store

_MARKER = "/" + DATA_PREFIX


def push_data(path: Path, registry_uri: str | Path) -> str:
    """Store the file at `path` in the registry; return its URI (`.../data/sha256/<hex>`)."""
    store = open_store(registry_uri)
    store.check()
    key = DATA_PREFIX + sha256_of(Path(path))
    if not store.exists(key):
        store.upload(key, Path(path))
    return store.location(key)


def fetch_data(uri: str, cache_dir: Path) -> Path:
    """A verified local copy of the data file `uri`, cached under `cache_dir` by digest."""
    registry_uri, marker, digest = uri.rpartition(_MARKER)
    if not marker or not digest:
        raise RegistryURIError(
            f"{uri}: a registry data URI ends in {_MARKER}<sha256>; "
            "`covertype data push FILE --registry URI` prints one"
        )
    cached = cache_dir / digest
    if cached.is_file():
        return cached
    store = open_store(registry_uri)
    key = DATA_PREFIX + digest
    if not store.exists(key):
        raise RegistryNotFound(
            uri, "no such data file", "Push it with `covertype data push FILE --registry URI`."
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".fetch-") as temp:
        local = Path(temp) / digest
        store.download(key, local)
        if sha256_of(local) != digest:
            raise IntegrityError(
                uri, "the downloaded file's sha256 differs from its name", "Push the file again."
            )
        local.replace(cached)
    return cached
