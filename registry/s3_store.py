"""A registry in an S3-compatible bucket (AWS S3, MinIO, Ceph, rclone serve s3, ...).

Layout under `s3://bucket/prefix/`:
- `<model>.registry/files/<publish id>/<path>`: a version's files, uploaded first under a
  prefix no other publisher uses, so racing publishers never overwrite each other's files;
- `<model>.registry/versions/<N>.json`: the manifest, written last: it commits version N.
  It is written with `If-None-Match: *` (refused if it exists, where the service honours
  it), after a check that it is absent, and read back: a publisher that reads another's
  manifest takes the next number.

Credentials, endpoint and region come only from the standard AWS_* environment variables
and the AWS config files, as boto3 reads them.
"""

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from registry.errors import (
    RegistryAccessDenied,
    RegistryError,
    RegistryNotFound,
    RegistryUnreachable,
)
from registry.manifest import Manifest
from registry.store import ManifestFactory, registry_prefix

DEFAULT_REGION = "us-east-1"
_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403", "Forbidden"}
_ABSENT = {"NoSuchKey", "404", "NotFound"}
_CREDENTIALS_HELP = (
    "Check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the AWS config files) "
    "and that they may use this bucket."
)


def versions_prefix(model_name: str) -> str:
    """Where a model's manifests live."""
    return f"{registry_prefix(model_name)}versions/"


class S3Store:
    """A registry at `s3://bucket/prefix`."""

    conditional_writes = False  # not assumed: correctness never depends on them

    def __init__(self, bucket: str, prefix: str, client: Any | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.uri = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self._client = client or _new_client()

    @contextmanager
    def _answers(self, action: str) -> Iterator[None]:
        """Translate boto3's failures into registry errors that name the URI and a remedy."""
        try:
            yield
        except botocore.exceptions.NoCredentialsError as error:
            raise RegistryAccessDenied(
                self.uri, f"{action}: no credentials", _CREDENTIALS_HELP
            ) from error
        except (
            botocore.exceptions.EndpointConnectionError,
            botocore.exceptions.ConnectionError,
            botocore.exceptions.HTTPClientError,
        ) as error:
            endpoint = self._client.meta.endpoint_url
            raise RegistryUnreachable(
                self.uri,
                f"{action}: the object store at {endpoint} does not answer ({error})",
                "Check AWS_ENDPOINT_URL and that the service is running and reachable.",
            ) from error
        except botocore.exceptions.ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code == "NoSuchBucket":
                raise RegistryNotFound(
                    self.uri,
                    f"{action}: bucket {self.bucket!r} does not exist",
                    "Create the bucket or correct the registry URI.",
                ) from error
            if code in _DENIED:
                raise RegistryAccessDenied(
                    self.uri, f"{action}: access denied ({code})", _CREDENTIALS_HELP
                ) from error
            raise RegistryError(
                self.uri, f"{action}: {error}", "See the object store's logs."
            ) from error

    def on_request(self, callback: Callable[[], None]) -> None:
        """Call `callback` before every HTTP request sent to the store (for metrics)."""

        def count(**_: object) -> None:  # a handler that returned a value would be the response
            callback()

        self._client.meta.events.register("before-send.s3", count)

    def check(self) -> None:
        """Raise unless the bucket exists and the credentials may use it."""
        with self._answers("checking the bucket"):
            try:
                self._client.head_bucket(Bucket=self.bucket)
            except botocore.exceptions.ClientError as error:
                if str(error.response.get("Error", {}).get("Code")) in _ABSENT:
                    raise RegistryNotFound(
                        self.uri,
                        f"bucket {self.bucket!r} does not exist",
                        "Create the bucket or correct the registry URI.",
                    ) from error
                raise

    def read(self, key: str) -> bytes | None:
        """The object's bytes, or None when it does not exist."""
        with self._answers(f"reading {key}"):
            try:
                return self._client.get_object(Bucket=self.bucket, Key=self.prefix + key)[
                    "Body"
                ].read()
            except botocore.exceptions.ClientError as error:
                if str(error.response.get("Error", {}).get("Code")) in _ABSENT:
                    return None
                raise

    def write(self, key: str, data: bytes, *, if_absent: bool = False) -> bool:
        """Put an object; with `if_absent`, False when it already exists."""
        with self._answers(f"writing {key}"):
            if not if_absent:
                self._client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)
                return True
            if self.exists(key):
                return False
            try:
                self._client.put_object(
                    Bucket=self.bucket, Key=self.prefix + key, Body=data, IfNoneMatch="*"
                )
            except botocore.exceptions.ClientError as error:
                code = str(error.response.get("Error", {}).get("Code"))
                if code in {"PreconditionFailed", "412", "ConditionalRequestConflict"}:
                    return False
                raise
            return True

    def exists(self, key: str) -> bool:
        """Whether the object exists (one HEAD request)."""
        with self._answers(f"looking up {key}"):
            try:
                self._client.head_object(Bucket=self.bucket, Key=self.prefix + key)
            except botocore.exceptions.ClientError as error:
                if str(error.response.get("Error", {}).get("Code")) in _ABSENT:
                    return False
                raise
        return True

    def keys(self, prefix: str) -> list[str]:
        """Every key under `prefix` (relative to the registry's prefix), sorted."""
        with self._answers(f"listing {prefix}"):
            paginator = self._client.get_paginator("list_objects_v2")
            found = [
                item["Key"][len(self.prefix) :]
                for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix)
                for item in page.get("Contents", ())
            ]
        return sorted(found)

    def upload(self, key: str, path: Path) -> None:
        """Upload a file."""
        with self._answers(f"uploading {key}"):
            self._client.upload_file(str(path), self.bucket, self.prefix + key)

    def download(self, key: str, path: Path) -> None:
        """Download an object into a file."""
        with self._answers(f"downloading {key}"):
            self._client.download_file(self.bucket, self.prefix + key, str(path))

    def location(self, key: str) -> str:
        """`s3://bucket/prefix/key`."""
        return f"s3://{self.bucket}/{self.prefix}{key}"

    def commit_version(self, model_name: str, folder: Path, manifest_for: ManifestFactory) -> int:
        """Upload the files under a fresh prefix, then commit the next number by its manifest."""
        files_prefix = f"{registry_prefix(model_name)}files/{secrets.token_hex(8)}"
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                self.upload(f"{files_prefix}/{path.relative_to(folder).as_posix()}", path)
        version = max(self._committed_numbers(model_name), default=0) + 1
        while True:
            data = manifest_for(version, files_prefix).to_json()
            key = f"{versions_prefix(model_name)}{version}.json"
            if self.write(key, data, if_absent=True) and self.read(key) == data:
                return version
            version = max([version, *self._committed_numbers(model_name)]) + 1

    def _committed_numbers(self, model_name: str) -> list[int]:
        prefix = versions_prefix(model_name)
        names = (key[len(prefix) :].removesuffix(".json") for key in self.keys(prefix))
        return [int(name) for name in names if name.isdigit()]

    def manifests(self, model_name: str, known: dict[int, Manifest]) -> dict[int, Manifest]:
        """Every committed manifest: one listing, and a read of each one not yet known."""
        found = {}
        for version in sorted(self._committed_numbers(model_name)):
            if version in known:
                found[version] = known[version]
                continue
            raw = self.read(f"{versions_prefix(model_name)}{version}.json")
            if raw is not None:
                found[version] = Manifest.from_json(raw)
        return found


def _new_client() -> Any:
    """An S3 client configured only by AWS_* variables and AWS config files."""
    session = boto3.session.Session()
    config = botocore.config.Config(
        region_name=session.region_name or DEFAULT_REGION,
        connect_timeout=3,
        read_timeout=30,
        retries={"max_attempts": 2, "mode": "standard"},
        # Self-hosted services (MinIO, rclone) on an AWS_ENDPOINT_URL rarely resolve
        # bucket host names; AWS itself prefers them.
        s3={"addressing_style": "path" if os.environ.get("AWS_ENDPOINT_URL") else "auto"},
    )
    return session.client("s3", config=config)
