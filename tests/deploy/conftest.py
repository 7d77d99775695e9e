"""Real servers shared by the deployment tests that run something."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from covertype import defaults
from tests.conftest import PublishTiny
from tests.support.model_server import RunningModelServer, start_model_server


@pytest.fixture(scope="package")
def models_dir(tmp_path_factory: pytest.TempPathFactory, publish_tiny: PublishTiny) -> Path:
    """A models folder with one version of the tiny real model."""
    models = tmp_path_factory.mktemp("models")
    publish_tiny(models)
    return models


@pytest.fixture(scope="package")
def model_server(models_dir: Path) -> Iterator[RunningModelServer]:
    """`covertype serve` (local backend) on free loopback ports, serving that version."""
    with start_model_server(model_base_path=models_dir / defaults.MODEL_NAME) as server:
        yield server
