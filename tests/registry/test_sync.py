"""One sync pass against a real S3 server: what it installs, refuses, writes and removes."""

from pathlib import Path
from typing import Any

import boto3
import pytest

from covertype.defaults import MODEL_NAME
from registry.errors import IntegrityError
from registry.manifest import sha256_of
from registry.serving_config import BasePathMismatch, read_served
from registry.sync import Sync, SyncOptions, plan_serving
from registry.sync_metrics import SyncMetrics
from registry.uri import open_registry
from tests.support.s3 import RunningS3Server


def make_sync(registry_uri: str, models_dir: Path, **options: float) -> Sync:
    settings = SyncOptions(
        models_dir=models_dir,
        model_name=MODEL_NAME,
        config_file=models_dir / "models.config",
        poll_seconds=0.1,
        removal_grace_seconds=options.get("removal_grace_seconds", 0),
        label_delay_seconds=options.get("label_delay_seconds", 0),
    )
    return Sync(open_registry(registry_uri), settings, SyncMetrics())


def served(models_dir: Path) -> list[str]:
    base = models_dir / MODEL_NAME
    return sorted(p.name for p in base.iterdir()) if base.is_dir() else []


def test_a_committed_version_is_installed_verified_and_configured(
    s3_registry: str, tiny_candidate: Any, tmp_path: Path
) -> None:
    open_registry(s3_registry).publish(tiny_candidate.path, MODEL_NAME)
    result = make_sync(s3_registry, tmp_path).sync_once()
    assert result.installed == (1,)
    version = tmp_path / MODEL_NAME / "1"
    for path in Path(tiny_candidate.path).rglob("*"):
        if path.is_file():
            assert sha256_of(version / path.relative_to(tiny_candidate.path)) == sha256_of(path)
    config = read_served(tmp_path / "models.config", MODEL_NAME, (tmp_path / MODEL_NAME))
    assert config.versions == {1}
    assert served(tmp_path) == ["1"]


def test_an_object_whose_sha256_differs_is_never_installed(
    s3_registry: str, s3_server: RunningS3Server, tiny_candidate: Any, tmp_path: Path
) -> None:
    registry = open_registry(s3_registry)
    registry.publish(tiny_candidate.path, MODEL_NAME)
    manifest = registry.manifest(MODEL_NAME, 1)
    client = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint,
        aws_access_key_id=s3_server.key,
        aws_secret_access_key=s3_server.secret,
        region_name="us-east-1",
    )
    client.put_object(
        Bucket="models",
        Key=f"registry/{manifest.files_prefix}/saved_model.pb",
        Body=b"tampered",
    )
    sync = make_sync(s3_registry, tmp_path)
    with pytest.raises(IntegrityError) as raised:
        sync.sync_once()
    message = str(raised.value)
    assert s3_registry in message
    assert "version 1, file saved_model.pb" in message
    assert "Publish the version again" in message
    assert served(tmp_path) == [], "nothing half-written, no leftover work folder"
    assert not (tmp_path / "models.config").exists()


def test_a_config_for_another_base_path_is_refused_and_kept(
    s3_registry: str, tiny_candidate: Any, tmp_path: Path
) -> None:
    open_registry(s3_registry).publish(tiny_candidate.path, MODEL_NAME)
    config_file = tmp_path / "models.config"
    text = (
        'model_config_list { config { name: "covertype" base_path: "/models/covertype" '
        'model_platform: "tensorflow" } }\n'
    )
    config_file.write_text(text)
    with pytest.raises(BasePathMismatch, match=r"serves covertype from /models/covertype"):
        make_sync(s3_registry, tmp_path).sync_once()
    assert config_file.read_text() == text


def test_retired_versions_leave_but_never_the_last_one_serving(
    s3_registry: str, tiny_candidate: Any, tmp_path: Path
) -> None:
    registry = open_registry(s3_registry)
    registry.publish(tiny_candidate.path, MODEL_NAME)
    registry.publish(tiny_candidate.path, MODEL_NAME)
    sync = make_sync(s3_registry, tmp_path)
    sync.sync_once()
    assert served(tmp_path) == ["1", "2"]
    registry.set_label(MODEL_NAME, "stable", 1)
    registry.retire(MODEL_NAME, 2)
    result = sync.sync_once()
    assert (result.served, result.labels, result.removed) == ((1,), {"stable": 1}, (2,))
    assert served(tmp_path) == ["1"]
    registry.retire(MODEL_NAME, 1)
    result = sync.sync_once()
    assert result.served == (1,), "the last version keeps serving"
    assert served(tmp_path) == ["1"]
    registry.restore(MODEL_NAME, 2)
    assert sync.sync_once().served == (2,)
    assert served(tmp_path) == ["2"]


def test_a_label_moves_only_after_its_version_was_listed_long_enough() -> None:
    listed = {1: 0.0, 2: 95.0}
    assert plan_serving([1, 2], {"stable": 2}, {"stable": 1}, listed, 100.0, 10.0) == (
        [1, 2],
        {"stable": 1},
    )
    assert plan_serving([1, 2], {"stable": 2}, {"stable": 1}, listed, 105.0, 10.0) == (
        [2],
        {"stable": 2},
    )
    assert plan_serving([1, 2], {"canary": 3}, {}, listed, 105.0, 10.0) == ([2], {})


def test_a_folder_registry_syncs_like_a_bucket(publish_tiny: Any, tmp_path: Path) -> None:
    """Today's `models/covertype/<N>/` layout is a registry too (versions published before
    manifests existed included)."""
    registry_dir = tmp_path / "models"
    publish_tiny(registry_dir, count=2)
    legacy = registry_dir / MODEL_NAME / "1" / "manifest.json"
    legacy.unlink()
    registry = open_registry(registry_dir)
    registry.retire(MODEL_NAME, 2)
    result = make_sync(str(registry_dir), tmp_path / "served").sync_once()
    assert (result.installed, result.served) == ((1,), (1,))
    assert served(tmp_path / "served") == ["1"]
