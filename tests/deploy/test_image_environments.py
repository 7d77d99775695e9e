"""Each image's command works with only the packages its Dockerfile installs.

The trainer job of compose (`covertype train` in the image's working folder, data and
models under it) trains and publishes a real version; the gateway (`covertype gateway`)
answers a prediction from the real model server; the sync (`covertype sync`) materialises
a registry's version and the model server's config; the console (`covertype console`)
shows the versions, model cards, history and drift from a real gateway, a models folder
and a prediction log. All run here with every module their image would lack refused
(see `image_env`).
"""

import os
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from covertype import defaults, schema
from covertype.processes import stop_process
from tests.support.gateway import start_gateway
from tests.support.model_server import RunningModelServer
from tests.support.ports import free_port

from .image_env import image_command, refused_modules
from .manifests import (
    CONSOLE_DOCKERFILE,
    GATEWAY_DOCKERFILE,
    REGISTRY_DOCKERFILE,
    TRAINER_DOCKERFILE,
    parse_model_server_config,
)

TRAIN_TIMEOUT_SECONDS = 300
GATEWAY_START_SECONDS = 30
FIRST_SYNC_SECONDS = 60
CONSOLE_START_SECONDS = 30
LOG_WRITTEN_SECONDS = 30
STOP_SECONDS = 10


@contextmanager
def image_process(
    dockerfile: Path,
    arguments: Sequence[str],
    ready_url: str,
    log_path: Path,
    timeout: float,
    env: Mapping[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """`covertype *arguments` with the image's packages only, once `ready_url` answers 200.

    Stopped (SIGTERM) on exit; its output is in `log_path`, shown when it fails to start.
    """
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            image_command(dockerfile, arguments),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert process.poll() is None, log_path.read_text(errors="replace")
            try:
                if httpx.get(ready_url, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")
            time.sleep(0.2)
        yield process
    finally:
        stop_process(process, STOP_SECONDS)


def test_gateway_image_has_no_tensorflow() -> None:
    refused = refused_modules(GATEWAY_DOCKERFILE)
    assert {"tensorflow", "keras", "tensorflow_serving", "trainer", "tfserving"} <= refused
    assert "console" in refused


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
    url = f"http://{defaults.HOST}:{port}"
    with image_process(
        GATEWAY_DOCKERFILE,
        ["gateway", "--host", defaults.HOST, "--port", str(port)],
        f"{url}/readyz",
        tmp_path / "gateway.log",
        GATEWAY_START_SECONDS,
        env={"COVERTYPE_TFSERVING": model_server.grpc_target},
    ):
        yield url


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
    assert heavy | {"gateway", "monitoring", "console"} <= refused
    assert not {"boto3", "botocore", "registry"} & refused


def test_sync_serves_a_folder_registry_with_the_registry_image_packages(
    models_dir: Path, tmp_path: Path
) -> None:
    """The package's models folder (one committed version) as a folder registry."""
    port = free_port()
    served = tmp_path / "served"
    log_path = tmp_path / "sync.log"
    with image_process(
        REGISTRY_DOCKERFILE,
        [
            "sync",
            f"--registry={models_dir}",
            f"--models-dir={served}",
            f"--model-name={defaults.MODEL_NAME}",
            "--poll-seconds=1",
            f"--metrics-port={port}",
        ],
        f"http://{defaults.HOST}:{port}/readyz",
        log_path,
        FIRST_SYNC_SECONDS,
    ) as process:
        assert (served / defaults.MODEL_NAME / "1" / "saved_model.pb").is_file()
        config = parse_model_server_config((served / "models.config").read_text())
        (model,) = config.model_config_list.config
        assert model.base_path == str(served / defaults.MODEL_NAME)
    assert process.returncode == 0, log_path.read_text(errors="replace")


def test_console_image_has_httpx_boto3_and_no_tensorflow() -> None:
    refused = refused_modules(CONSOLE_DOCKERFILE)
    heavy = {"tensorflow", "keras", "tensorflow_serving", "numpy", "trainer", "tfserving"}
    assert heavy | {"gateway"} <= refused
    needed = {"httpx", "boto3", "console", "registry", "release", "monitoring", "protos"}
    assert not needed & refused, needed & refused


def test_console_shows_versions_history_and_drift_with_the_console_image_packages(
    model_server: RunningModelServer, models_dir: Path, tmp_path: Path
) -> None:
    """A real gateway writing a prediction log, the package's models folder as registry."""
    prediction_log = tmp_path / "predictions.jsonl"
    port = free_port()
    url = f"http://{defaults.HOST}:{port}"
    with (
        start_gateway(
            model_server.grpc_target, extra_args=["--prediction-log", str(prediction_log)]
        ) as gateway,
        image_process(
            CONSOLE_DOCKERFILE,
            [
                "console",
                f"--host={defaults.HOST}",
                f"--port={port}",
                f"--gateway={gateway.url}",
                f"--registry={models_dir}",
                f"--prediction-log={prediction_log}",
            ],
            f"{url}/healthz",
            tmp_path / "console.log",
            CONSOLE_START_SECONDS,
        ),
        httpx.Client(base_url=url, timeout=30) as console,
    ):
        versions = console.get("/console/api/versions")
        assert versions.status_code == 200, versions.text
        (row,) = versions.json()["versions"]
        assert (row["version"], row["state"], row["registry_state"]) == (1, "AVAILABLE", "live")
        assert 0 < row["card"]["accuracy"] <= 1, "the model card, read from the registry"
        history = console.get("/console/api/history")
        assert history.status_code == 200, history.text
        events = [(event["event"], event["version"]) for event in history.json()["events"]]
        assert ("published", 1) in events
        predicted = console.post("/console/api/predict", json=schema.EXAMPLE_OBSERVATION)
        assert predicted.status_code == 200, predicted.text
        assert predicted.json()["model_version"] == 1
        deadline = time.monotonic() + LOG_WRITTEN_SECONDS
        while not (prediction_log.is_file() and prediction_log.stat().st_size):
            assert time.monotonic() < deadline, "the gateway wrote no prediction"
            time.sleep(0.2)
        drift = console.get("/console/api/drift")
        assert drift.status_code == 200, drift.text
        assert [version["version"] for version in drift.json()["versions"]] == [1]
        assert console.get("/console/static/vendor/chart.umd.min.js").status_code == 200
