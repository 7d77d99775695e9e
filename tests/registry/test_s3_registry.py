"""The registry on a real S3 server (rclone): publish, list, events, data, and bad input."""

import hashlib
from pathlib import Path
from typing import Any

import boto3
import pytest

from covertype.defaults import MODEL_NAME
from registry.data import fetch_data, push_data
from registry.errors import (
    RegistryAccessDenied,
    RegistryNotFound,
    RegistryUnreachable,
    VersionNotFound,
)
from registry.events import VersionState
from registry.manifest import CardSummary, Manifest
from registry.uri import open_registry
from tests.support.ports import free_port
from tests.support.s3 import RunningS3Server


def s3_client(server: RunningS3Server) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.key,
        aws_secret_access_key=server.secret,
        region_name="us-east-1",
    )


def test_a_published_version_is_listed_live_with_its_card(
    s3_registry: str, tiny_candidate: Any
) -> None:
    registry = open_registry(s3_registry)
    assert registry.publish(tiny_candidate.path, MODEL_NAME) == 1
    assert registry.publish(tiny_candidate.path, MODEL_NAME) == 2
    [first, second] = registry.versions(MODEL_NAME)
    assert (first.version, first.state, second.state) == (1, VersionState.LIVE, VersionState.LIVE)
    assert first.card.accuracy == tiny_candidate.metrics["accuracy"]
    assert first.card.macro_f1 == tiny_candidate.metrics["macro_f1"]
    assert first.card.data_fingerprint == tiny_candidate.metrics["data_fingerprint"]
    manifest = registry.manifest(MODEL_NAME, 1)
    assert {f.path for f in manifest.files} >= {"saved_model.pb", "variables/variables.index"}


def test_a_number_another_publisher_committed_is_never_reused(
    s3_registry: str, s3_server: RunningS3Server, tiny_candidate: Any
) -> None:
    """rclone ignores If-None-Match: the check before writing and the read-back hold."""
    registry = open_registry(s3_registry)
    theirs = Manifest(1, (), CardSummary(), files_prefix="x")
    s3_client(s3_server).put_object(
        Bucket="models",
        Key=f"registry/{MODEL_NAME}.registry/versions/1.json",
        Body=theirs.to_json(),
    )
    assert registry.publish(tiny_candidate.path, MODEL_NAME) == 2
    assert registry.manifest(MODEL_NAME, 1).files_prefix == "x", "theirs is untouched"


def test_files_uploaded_without_a_manifest_are_no_version(
    s3_registry: str, s3_server: RunningS3Server, tiny_candidate: Any
) -> None:
    client = s3_client(s3_server)
    for path in Path(tiny_candidate.path).rglob("*"):
        if path.is_file():
            name = path.relative_to(tiny_candidate.path).as_posix()
            key = f"registry/{MODEL_NAME}.registry/files/abandoned/{name}"
            client.upload_file(str(path), "models", key)
    registry = open_registry(s3_registry)
    assert registry.versions(MODEL_NAME) == []
    with pytest.raises(VersionNotFound, match="no committed version 1"):
        registry.retire(MODEL_NAME, 1)
    assert registry.publish(tiny_candidate.path, MODEL_NAME) == 1


def test_retire_restore_and_labels_are_events_that_are_never_lost(
    s3_registry: str, tiny_candidate: Any
) -> None:
    registry = open_registry(s3_registry)
    for _ in range(3):
        registry.publish(tiny_candidate.path, MODEL_NAME)
    registry.set_label(MODEL_NAME, "stable", 2)
    registry.set_label(MODEL_NAME, "canary", 3)
    registry.retire(MODEL_NAME, 3, reason="rollback")
    registry.halt(MODEL_NAME, 1, reason="verify failed")
    other_machine = open_registry(s3_registry)
    states = {v.version: v.state for v in other_machine.versions(MODEL_NAME)}
    assert states == {1: VersionState.HALTED, 2: VersionState.LIVE, 3: VersionState.RETIRED}
    assert dict(other_machine.state(MODEL_NAME).labels) == {"stable": 2, "canary": 3}
    other_machine.restore(MODEL_NAME, 3)
    other_machine.remove_label(MODEL_NAME, "canary")
    state = registry.state(MODEL_NAME)
    assert state.state_of(3) is VersionState.LIVE
    assert dict(state.labels) == {"stable": 2}
    kinds = [e.kind.value for e in registry.history(MODEL_NAME)]
    assert kinds == [
        *["published"] * 3,
        *["labelled", "labelled", "retired", "halted", "restored", "unlabelled"],
    ]
    assert len(registry.manifests(MODEL_NAME)) == 3, "nothing is ever deleted"


def test_data_is_stored_by_its_sha256_and_checked_when_fetched(
    s3_registry: str, train_csv: Path, tmp_path: Path
) -> None:
    digest = hashlib.sha256(train_csv.read_bytes()).hexdigest()
    uri = push_data(train_csv, s3_registry)
    assert uri == f"{s3_registry}/data/sha256/{digest}"
    assert push_data(train_csv, s3_registry) == uri, "the same file is stored once"
    local = fetch_data(uri, tmp_path / "cache")
    assert local.read_bytes() == train_csv.read_bytes()
    with pytest.raises(RegistryNotFound, match=r"no such data file.*covertype data push"):
        fetch_data(f"{s3_registry}/data/sha256/{'0' * 64}", tmp_path / "cache")


def test_an_unreachable_endpoint_names_the_uri_and_the_variable(
    monkeypatch: pytest.MonkeyPatch, s3_server: RunningS3Server
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    registry = open_registry("s3://models/registry")
    with pytest.raises(RegistryUnreachable) as raised:
        registry.versions(MODEL_NAME)
    assert "s3://models/registry" in str(raised.value)
    assert "AWS_ENDPOINT_URL" in str(raised.value)


def test_wrong_credentials_name_the_uri_and_the_variables(
    monkeypatch: pytest.MonkeyPatch, s3_registry: str
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    registry = open_registry(s3_registry)
    with pytest.raises(RegistryAccessDenied) as raised:
        registry.versions(MODEL_NAME)
    assert s3_registry in str(raised.value)
    assert "AWS_SECRET_ACCESS_KEY" in str(raised.value)


def test_a_missing_bucket_names_the_bucket_and_what_to_do(s3_server: RunningS3Server) -> None:
    registry = open_registry("s3://no-such-bucket/registry")
    with pytest.raises(RegistryNotFound) as raised:
        registry.store.check()
    assert "s3://no-such-bucket/registry" in str(raised.value)
    assert "Create the bucket" in str(raised.value)
