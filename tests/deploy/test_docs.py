"""The examples in docs/deployment.md work against the real servers.

The gRPC example runs as written, with the address and the data path swapped for the
test's; the curl example's JSON body goes to the gateway.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx

from covertype import defaults
from tests.support.gateway import RunningGateway
from tests.support.model_server import RunningModelServer

from .manifests import REPO

DOC = REPO / "docs" / "deployment.md"


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_grpc_example_prints_the_version_and_the_prediction(
    model_server: RunningModelServer, train_csv: Path
) -> None:
    (example,) = code_blocks("python")
    default_target = f"127.0.0.1:{defaults.GRPC_PORT}"
    assert default_target in example and '"data/train.csv"' in example
    code = example.replace(default_target, model_server.grpc_target).replace(
        '"data/train.csv"', repr(str(train_csv))
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "AVAILABLE" in result.stdout
    assert re.search(r"version 1 cover type \[[1-7]\] true [1-7]", result.stdout), result.stdout


def test_curl_prediction_example_is_answered_by_the_gateway(gateway: RunningGateway) -> None:
    shell = "\n".join(code_blocks("sh"))
    (body,) = re.findall(r"/v1/predict .*?-d '(.*?)'", shell, re.S)
    response = httpx.post(f"{gateway.url}/v1/predict", json=json.loads(body), timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["model_version"] == 1
