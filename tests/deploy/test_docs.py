"""The examples in docs/deployment.md work against the real servers; docs/registry.md holds.

The gRPC example runs as written, with the address and the data path swapped for the
test's; the curl example's JSON body goes to the gateway.
"""

import itertools
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import httpx

from covertype import defaults
from tests.support.gateway import RunningGateway
from tests.support.model_server import RunningModelServer

from .manifests import REPO, SYNC_FLAGS

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


# docs/registry.md: the registry-mode walkthrough.

REGISTRY_DOC = REPO / "docs" / "registry.md"


def registry_doc_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", REGISTRY_DOC.read_text(encoding="utf-8"), re.S)


def shell_commands() -> list[list[str]]:
    """Every command line of the page's sh blocks, comments and continuation joined."""
    commands = []
    for block in registry_doc_blocks("sh"):
        for line in block.replace("\\\n", " ").splitlines():
            text = line.split(" #", 1)[0].strip()
            if text and not text.startswith("#"):
                commands.append(shlex.split(text))
    return commands


def test_registry_doc_is_linked_from_the_readme_and_the_deployment_doc() -> None:
    assert "(docs/registry.md)" in (REPO / "README.md").read_text(encoding="utf-8")
    assert "(registry.md)" in DOC.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#]+)\)", REGISTRY_DOC.read_text(encoding="utf-8")):
        assert (REGISTRY_DOC.parent / target).is_file(), target


def test_registry_doc_make_targets_exist() -> None:
    targets = {c[1] for c in shell_commands() if c[0] == "make"}
    assert "demo-registry" in targets
    for target in targets:
        result = subprocess.run(
            ["make", "-n", target], cwd=REPO, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr


def test_registry_doc_files_and_overlays_exist() -> None:
    text = REGISTRY_DOC.read_text(encoding="utf-8")
    paths = set(re.findall(r"`((?:deploy|registry|docs)/[\w./-]+|compose[\w.]*\.yaml)`", text))
    for command in shell_commands():
        for flag, value in itertools.pairwise(command):
            if flag == "-k" or (flag == "-f" and value.endswith(".yaml")):  # not `logs -f`
                paths.add(value)
    assert {"compose.registry.yaml", "deploy/k8s/overlays/s3"} <= paths
    for path in paths:
        assert (REPO / path).exists(), path


def test_registry_doc_covertype_commands_parse() -> None:
    from covertype.cli import build_parser

    parser = build_parser()
    commands = [c for c in shell_commands() if c[0].endswith("bin/covertype")]
    assert {c[1] for c in commands} >= {"versions", "train", "label", "rollback"}
    registries = {str(parser.parse_args(command[1:]).registry) for command in commands}
    # every command of the walk-through acts on the one registry the demo made
    assert registries == {"s3://covertype/registry"}, registries


def test_registry_doc_gives_the_syncs_flags_and_defaults() -> None:
    from covertype.cli import build_parser

    (usage,) = registry_doc_blocks("text")
    assert set(re.findall(r"--([\w-]+)", usage)) == SYNC_FLAGS
    args = build_parser().parse_args(
        ["sync", "--registry", "s3://b/p", "--models-dir", "m", "--model-name", "covertype"]
    )
    assert f"default {args.metrics_port}" in usage
    assert f"default {args.metrics_host}" in usage
