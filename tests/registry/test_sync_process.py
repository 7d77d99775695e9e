"""`covertype sync` as a process: killed mid-download, the registry gone for a while,
and two model servers, each with its own sync, converging on the registry."""

import csv
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import grpc
import httpx
from tensorflow_serving.apis import get_model_status_pb2, model_service_pb2_grpc

from covertype.defaults import ASSETS_EXTRA, MATRIX_SIGNATURE, MODEL_NAME
from covertype.schema import FEATURE_COLUMNS
from registry.manifest import sha256_of
from registry.uri import open_registry
from tests.support.model_server import start_model_server
from tests.support.s3 import RunningS3Server
from tests.support.sync import start_sync

PADDING_BYTES = 96 * 2**20


def wait_for(check: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"waited {timeout:g} s for {what}"
        time.sleep(interval)
    return result


def available(grpc_target: str) -> list[int]:
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = MODEL_NAME
    with grpc.insecure_channel(grpc_target) as channel:
        try:
            response = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(
                request, timeout=5
            )
        except grpc.RpcError:
            return []
    state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
    return sorted(s.version for s in response.model_version_status if s.state == state)


def predicted_version(rest_url: str, train_csv: Path) -> int:
    """Ask the REST API for one prediction of the matrix signature; the version that answered."""
    with train_csv.open(newline="") as handle:
        row = next(csv.DictReader(handle))
    body = {
        "signature_name": MATRIX_SIGNATURE,
        "instances": [[float(row[name]) for name in FEATURE_COLUMNS]],
    }
    url = f"{rest_url}/v1/models/{MODEL_NAME}:predict"
    response = httpx.post(url, json=body, timeout=10)
    assert response.status_code == 200, response.text
    status = httpx.get(f"{rest_url}/v1/models/{MODEL_NAME}", timeout=10).json()
    return max(int(v["version"]) for v in status["model_version_status"])


def test_a_sync_killed_mid_download_leaves_nothing_half_written(
    s3_registry: str, s3_server: RunningS3Server, tiny_candidate: Any, tmp_path: Path
) -> None:
    heavy = tmp_path / "heavy"
    shutil.copytree(tiny_candidate.path, heavy)
    (heavy / ASSETS_EXTRA / "padding.bin").write_bytes(os.urandom(PADDING_BYTES))
    open_registry(s3_registry).publish(heavy, MODEL_NAME)
    served = tmp_path / "served"
    base = served / MODEL_NAME
    env = s3_server.environment()
    with start_sync(registry=s3_registry, models_dir=served, env=env) as sync:
        wait_for(lambda: base.is_dir() and any(base.glob(".sync-*")), 60, "a download under way")
        sync.process.send_signal(signal.SIGKILL)
        sync.process.wait()
    assert not (base / "1").exists(), "no version folder before its download completed"
    with start_sync(registry=s3_registry, models_dir=served, env=env) as sync:
        sync.wait_ready()
        assert sorted(p.name for p in base.iterdir()) == ["1"], "leftovers removed"
    for path in heavy.rglob("*"):
        if path.is_file():
            assert sha256_of(base / "1" / path.relative_to(heavy)) == sha256_of(path)


def test_the_server_keeps_serving_while_the_registry_is_away_and_the_sync_recovers(
    s3_registry: str,
    s3_server: RunningS3Server,
    tiny_candidate: Any,
    tmp_path: Path,
    train_csv: Path,
) -> None:
    registry = open_registry(s3_registry)
    registry.publish(tiny_candidate.path, MODEL_NAME)
    served = tmp_path / "served"
    with start_sync(registry=s3_registry, models_dir=served, env=s3_server.environment()) as sync:
        sync.wait_ready()
        with start_model_server(
            model_config_file=served / "models.config",
            extra_args=[
                "--file_system_poll_wait_seconds=1",
                "--model_config_file_poll_wait_seconds=1",
            ],
        ) as server:
            s3_server.stop()
            wait_for(
                lambda: sync.metric('covertype_sync_failures_total{kind="unreachable"}') >= 2,
                60,
                "the sync to notice the registry is gone",
            )
            assert predicted_version(server.rest_url, train_csv) == 1, "serving goes on"
            assert "AWS_ENDPOINT_URL" in sync.log() and s3_registry in sync.log()
            s3_server.start()
            registry.publish(tiny_candidate.path, MODEL_NAME)
            wait_for(lambda: available(server.grpc_target) == [2], 90, "version 2 AVAILABLE")
            assert sync.metric("covertype_sync_versions_behind") == 0


def test_two_replicas_converge_on_publish_label_and_retire(
    s3_registry: str, s3_server: RunningS3Server, tiny_candidate: Any, tmp_path: Path
) -> None:
    registry = open_registry(s3_registry)
    registry.publish(tiny_candidate.path, MODEL_NAME)
    env = s3_server.environment()
    replicas = []
    try:
        for name in ("a", "b"):
            served = tmp_path / name
            sync = start_sync(
                registry=s3_registry,
                models_dir=served,
                env=env,
                extra_args=["--label-delay-seconds=3"],
            )
            replicas.append(sync)
            sync.wait_ready()
            server = start_model_server(
                model_config_file=served / "models.config",
                extra_args=[
                    "--file_system_poll_wait_seconds=1",
                    "--model_config_file_poll_wait_seconds=1",
                ],
            )
            replicas.append(server)
        targets = [r.grpc_target for r in replicas if hasattr(r, "grpc_target")]
        registry.publish(tiny_candidate.path, MODEL_NAME)
        registry.set_label(MODEL_NAME, "stable", 1)
        for target in targets:
            wait_for(lambda t=target: available(t) == [1, 2], 90, f"1 and 2 AVAILABLE on {target}")
        for name in ("a", "b"):
            wait_for(
                lambda n=name: 'key: "stable"' in (tmp_path / n / "models.config").read_text(),
                30,
                f"the stable label in replica {name}'s config",
            )
        registry.retire(MODEL_NAME, 2, reason="rollback")
        for target in targets:
            wait_for(lambda t=target: available(t) == [1], 90, f"version 1 alone on {target}")
        for name in ("a", "b"):
            assert not (tmp_path / name / MODEL_NAME / "2").exists()
    finally:
        for replica in reversed(replicas):
            replica.stop()
