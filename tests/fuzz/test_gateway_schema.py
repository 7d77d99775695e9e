"""Schema-driven fuzzing of the gateway with schemathesis, against the real services.

Schemathesis reads the gateway's own OpenAPI document and sends what it generates
from it: valid requests must get 2xx, invalid ones one of the documented error
statuses, never a 5xx, and every answer must match its documented schema. Bounded:
a fixed seed, a fixed number of examples per operation and the test's timeout.
A longer run: `make fuzz`.
"""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from covertype import defaults
from tests.support.gateway import RunningGateway, start_gateway
from tests.support.model_server import start_model_server

SEED = 20261130
EXAMPLES_PER_OPERATION = 60


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, publish_tiny: Any
) -> Iterator[RunningGateway]:
    models_dir = tmp_path_factory.mktemp("models")
    publish_tiny(models_dir)
    with (
        start_model_server(model_base_path=models_dir / defaults.MODEL_NAME) as server,
        start_gateway(server.grpc_target, extra_args=["--max-instances", "50"]) as running,
    ):
        yield running


def test_the_gateway_keeps_its_openapi_contract(gateway: RunningGateway, tmp_path: Path) -> None:
    command = [
        str(Path(sys.executable).parent / "st"), "run", f"{gateway.url}/openapi.json",
        "--checks", "all",
        "--phases", "examples,fuzzing",
        "--max-examples", str(EXAMPLES_PER_OPERATION),
        "--seed", str(SEED),
        "--request-timeout", "30",
        "--report", "junit", "--report-dir", str(tmp_path),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout, result.stdout[-3000:]
    assert "unhandled error" not in gateway.log()
