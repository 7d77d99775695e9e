"""Reading the deployment files the way the tools that run them do.

Small helpers shared by the deployment tests: the repository's paths, YAML loading,
`kubectl kustomize` builds, the `covertype serve` argument parser, and the model
server's text-format config parsed with TF Serving's own proto.
"""

import argparse
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from dockerfile_parse import DockerfileParser
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "compose.yaml"
# Registry mode: `docker compose -f compose.yaml -f compose.registry.yaml ...`.
COMPOSE_REGISTRY_FILE = REPO / "compose.registry.yaml"
K8S_DIR = REPO / "deploy" / "k8s"
K8S_BASE = K8S_DIR / "base"
K8S_OVERLAYS = sorted(p for p in (K8S_DIR / "overlays").iterdir() if p.is_dir())
GATEWAY_DOCKERFILE = REPO / "gateway" / "Dockerfile"
TRAINER_DOCKERFILE = REPO / "trainer" / "Dockerfile"
REGISTRY_DOCKERFILE = REPO / "registry" / "Dockerfile"
CONSOLE_DOCKERFILE = REPO / "console" / "Dockerfile"
DOCKERFILES = (GATEWAY_DOCKERFILE, TRAINER_DOCKERFILE, REGISTRY_DOCKERFILE, CONSOLE_DOCKERFILE)
TFSERVING_IMAGE = "tensorflow/serving"
# `covertype sync`'s flags (issue 12's interface). Credentials and endpoint come only from
# boto3's standard variables, never from flags or committed files.
SYNC_FLAGS = frozenset(
    {
        "registry",
        "models-dir",
        "model-name",
        "config-file",
        "poll-seconds",
        "metrics-host",
        "metrics-port",
    }
)
AWS_VARIABLES = frozenset(
    {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION"}
)


def venv_tool(name: str) -> str:
    """The path of a console script installed beside this interpreter (the project's venv)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.fail(f"{name} is not installed in {path.parent}: run `make install`")
    return str(path)


def load_yaml(path: Path) -> Any:
    """One YAML document from `path`."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# Compose's merge rules for the keys these files use: mappings merge key by key, mounts
# by container path, the command lines and the healthcheck test are replaced, other
# sequences are appended.
_REPLACED = {"command", "entrypoint", "test"}


def merge_services(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` applied to `base` as `docker compose -f base -f override` does."""
    merged = dict(base)
    for name, value in override.items():
        merged[name] = _merge(base[name], value) if name in base else value
    return merged


def _merge(base: Any, override: Any, key: str = "") -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for name, value in override.items():
            merged[name] = _merge(base[name], value, name) if name in base else value
        return merged
    if key == "volumes":
        by_target = {mount["target"]: mount for mount in [*base, *override]}
        return list(by_target.values())
    if isinstance(base, list) and key not in _REPLACED:
        return [*base, *(item for item in override if item not in base)]
    return override


def kustomize(folder: Path) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize folder` renders, with the kubectl pinned in the dev extra."""
    result = subprocess.run(
        [venv_tool("kubectl"), "kustomize", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize {folder} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def find(objects: Iterable[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one object of `kind` named `name` (kustomize may add a hash suffix to ConfigMaps)."""
    matches = [
        obj
        for obj in objects
        if obj["kind"] == kind
        and (obj["metadata"]["name"] == name or obj["metadata"]["name"].startswith(f"{name}-"))
    ]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def containers(deployment: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every container (init containers too) of a Deployment's pod template."""
    spec = deployment["spec"]["template"]["spec"]
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def serve_args(flags: Sequence[str]) -> argparse.Namespace:
    """`flags` parsed by `covertype serve`'s parser; fails the test if it rejects them.

    The flags must also be ones the local Python server implements, so that the same
    command line runs on either backend.
    """
    from tfserving.flags import build_parser, unsupported_by_local

    try:
        args = build_parser().parse_args(list(flags))
    except SystemExit as exit_:
        pytest.fail(f"`covertype serve` rejects {list(flags)} (exit {exit_.code}; see stderr)")
    unsupported = unsupported_by_local(args)
    assert not unsupported, f"the local server does not implement {unsupported}"
    return args


def sync_args(arguments: Sequence[str]) -> argparse.Namespace:
    """`covertype sync ...` parsed by the `covertype` command's own parser.

    Only the interface's flags, each as `--name=value`; fails the test otherwise or if the
    parser rejects them.
    """
    from covertype.cli import build_parser

    command, *flags = arguments
    assert command == "sync", arguments
    unknown = set(flag_values(flags)) - SYNC_FLAGS
    assert not unknown, f"covertype sync has no flags {sorted(unknown)}"
    try:
        return build_parser().parse_args(list(arguments))
    except SystemExit as exit_:
        pytest.fail(f"`covertype` rejects {list(arguments)} (exit {exit_.code}; see stderr)")


def read_env_file(path: Path) -> dict[str, str]:
    """`KEY=VALUE` lines of a Compose env file or a kustomize secretGenerator `envs` file."""
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def flag_values(flags: Sequence[str]) -> dict[str, str]:
    """`--name=value` flags as a dict (the one spelling compose and the manifests use)."""
    values = {}
    for flag in flags:
        assert flag.startswith("--") and "=" in flag, f"{flag!r}: write flags as --name=value"
        name, value = flag[2:].split("=", 1)
        values[name] = value
    return values


def grpc_target_address(target: str) -> tuple[str, int]:
    """(host, port) of a `host:port` or `dns:///host:port` gRPC target."""
    address = target.removeprefix("dns:///")
    assert "://" not in address and ":" in address, f"{target!r} is not host:port or dns:///"
    host, port = address.rsplit(":", 1)
    return host, int(port)


def parse_model_server_config(text: str) -> model_server_config_pb2.ModelServerConfig:
    """A models.config text parsed strictly with TF Serving's `ModelServerConfig`."""
    config = model_server_config_pb2.ModelServerConfig()
    text_format.Parse(text, config)
    return config


def pinned_version(package: str) -> str:
    """The version uv.lock pins for `package`."""
    lock = tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))
    (version,) = [p["version"] for p in lock["package"] if p["name"] == package]
    return version


def image_tag(image: str) -> tuple[str, str]:
    """`name:tag` split in two; fails for an image without a tag."""
    name, _, tag = image.rpartition(":")
    assert name and "/" not in tag, f"image {image!r} has no tag"
    return name, tag


def parse(dockerfile: Path) -> DockerfileParser:
    """The Dockerfile parsed with build args resolved."""
    return DockerfileParser(str(dockerfile))


def instructions(dockerfile: Path, name: str) -> list[str]:
    """The values of every `name` instruction, in order."""
    return [i["value"] for i in parse(dockerfile).structure if i["instruction"] == name]


def final_stage(dockerfile: Path) -> list[dict[str, str]]:
    """The instructions after the last FROM."""
    structure = parse(dockerfile).structure
    last_from = max(n for n, i in enumerate(structure) if i["instruction"] == "FROM")
    return structure[last_from + 1 :]
