"""Real servers shared by the deployment tests that run something."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from covertype import defaults
from tests.conftest import PublishTiny
from tests.support.gateway import RunningGateway, start_gateway
from tests.support.model_server import RunningModelServer, start_model_server

# A second model in the server's config whose base path has no version yet.
UNPUBLISHED_MODEL = "unpublished"


@pytest.fixture(scope="package")
def models_dir(tmp_path_factory: pytest.TempPathFactory, publish_tiny: PublishTiny) -> Path:
    """A models folder with one version of the tiny real model (and an empty second model)."""
    models = tmp_path_factory.mktemp("models")
    publish_tiny(models)
    (models / UNPUBLISHED_MODEL).mkdir()
    return models


@pytest.fixture(scope="package")
def model_server(models_dir: Path) -> Iterator[RunningModelServer]:
    """`covertype serve` (local backend) on free loopback ports, serving both models."""
    config = models_dir / "models.config"
    config.write_text(
        "model_config_list {\n"
        + "".join(
            f'  config {{ name: "{name}" base_path: "{models_dir / name}" '
            'model_platform: "tensorflow" }\n'
            for name in (defaults.MODEL_NAME, UNPUBLISHED_MODEL)
        )
        + "}\n",
        encoding="utf-8",
    )
    with start_model_server(model_config_file=config) as server:
        yield server


@pytest.fixture(scope="package")
def gateway(model_server: RunningModelServer) -> Iterator[RunningGateway]:
    """`covertype gateway` on a free loopback port in front of that model server."""
    with start_gateway(model_server.grpc_target) as running:
        yield running
