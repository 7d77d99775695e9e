"""Each image's command works with only the packages its Dockerfile installs.

The trainer job of compose (`covertype train` in the image's working folder, data and
models under it) trains and publishes a real version; the gateway (`covertype gateway`)
answers a prediction from the real model server; the sync (`covertype sync`) materialises
a registry's version and the model server's config. All run here with every module
their image would lack refused (see `image_env`).
"""

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from covertype import defaults, schema
from tests.support.model_server import RunningModelServer
from tests.support.ports import free_port

from .image_env import image_command, refused_modules
from .manifests import (
    GATEWAY_DOCKERFILE,
    REGISTRY_DOCKERFILE,
    TRAINER_DOCKERFILE,
    parse_model_server_config,
)

TRAIN_TIMEOUT_SECONDS = 300
GATEWAY_START_SECONDS = 30
FIRST_SYNC_SECONDS = 60


def test_gateway_image_has_no_tensorflow() -> None:
    refused = refused_modules(GATEWAY_DOCKERFILE)
    assert {"tensorflow", "keras", "tensorflow_serving", "trainer", "tfserving"} <= refused


def test_trainer_job_trains_and_publishes_with_the_trainer_image_packages(
    tmp_path: Path, train_csv: Path
) -> None:
    # The image's working folder: the trainer's default paths are the two volumes.
    (tmp_path / defaults.DATA_DIR).mkdir()
    (tmp_path / defaults.DATA_DIR / "train.csv").symlink_to(train_csv)
    (tmp_path / defaults.MODELS_DIR).mkdir()
    command = image_command(
        TRAINER_DOCKERFILE, ["train", "--sample", "2000", "--epochs", "1", "--quiet"]
    )
    result = subprocess.run(
        command,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TRAIN_TIMEOUT_SECONDS,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    version = tmp_path / defaults.MODELS_DIR / defaults.MODEL_NAME / "1"
    assert (version / "saved_model.pb").is_file()
    assert (version / defaults.ASSETS_EXTRA / defaults.WARMUP_FILE).is_file()


@pytest.fixture
def image_gateway(model_server: RunningModelServer, tmp_path: Path) -> Iterator[str]:
    """The gateway started with the gateway image's packages only; yields its URL."""
    port = free_port()
    command = image_command(
        GATEWAY_DOCKERFILE,
        ["gateway", "--host", defaults.HOST, "--port", str(port)],
    )
    log_path = tmp_path / "gateway.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COVERTYPE_TFSERVING": model_server.grpc_target},
        )
    try:
        url = f"http://{defaults.HOST}:{port}"
        deadline = time.monotonic() + GATEWAY_START_SECONDS
        while True:
            assert process.poll() is None, log_path.read_text(errors="replace")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_gateway_serves_predictions_with_the_gateway_image_packages(
    image_gateway: str, train_csv: Path
) -> None:
    with train_csv.open(encoding="utf-8") as rows:
        header = rows.readline().strip().split(",")
        values = rows.readline().strip().split(",")
    row = dict(zip(header, values, strict=True))
    instance = {column: int(row[column]) for column in schema.FEATURE_COLUMNS}
    response = httpx.post(f"{image_gateway}/v1/predict", json={"instances": [instance]}, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == 1


def test_registry_image_has_boto3_and_no_tensorflow() -> None:
    refused = refused_modules(REGISTRY_DOCKERFILE)
    heavy = {"tensorflow", "keras", "tensorflow_serving", "trainer", "tfserving", "release"}
    assert heavy | {"gateway", "monitoring"} <= refused
    assert not {"boto3", "botocore", "registry"} & refused


def test_sync_serves_a_folder_registry_with_the_registry_image_packages(
    models_dir: Path, tmp_path: Path
) -> None:
    """The package's models folder (one committed version) as a folder registry."""
    port = free_port()
    served = tmp_path / "served"
    command = image_command(
        REGISTRY_DOCKERFILE,
        [
            "sync",
            f"--registry={models_dir}",
            f"--models-dir={served}",
            f"--model-name={defaults.MODEL_NAME}",
            "--poll-seconds=1",
            f"--metrics-port={port}",
        ],
    )
    log_path = tmp_path / "sync.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + FIRST_SYNC_SECONDS
        while True:
            assert process.poll() is None, log_path.read_text(errors="replace")
            try:
                ready = httpx.get(f"http://{defaults.HOST}:{port}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")
            time.sleep(0.2)
        assert (served / defaults.MODEL_NAME / "1" / "saved_model.pb").is_file()
        config = parse_model_server_config((served / "models.config").read_text())
        (model,) = config.model_config_list.config
        assert model.base_path == str(served / defaults.MODEL_NAME)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, log_path.read_text(errors="replace")
