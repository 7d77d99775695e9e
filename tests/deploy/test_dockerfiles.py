"""The Dockerfiles: hadolint-clean, non-root, pinned, and their build contexts complete and lean."""

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from docker.utils.build import exclude_paths

from covertype import defaults

from .image_env import installed_extras, locked_distributions, sync_command
from .manifests import (
    CONSOLE_DOCKERFILE,
    DOCKERFILES,
    GATEWAY_DOCKERFILE,
    REGISTRY_DOCKERFILE,
    REPO,
    TRAINER_DOCKERFILE,
    final_stage,
    instructions,
    parse,
    venv_tool,
)

HEAVY_PACKAGES = {"tensorflow", "tensorflow-cpu", "keras", "tensorflow-serving-api"}


def read_ignore_file(path: Path) -> list[str]:
    """Patterns of a .dockerignore file, read as the Docker clients read it."""
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def build_context(dockerfile: Path) -> set[str]:
    """Files BuildKit sends for `dockerfile` with the repository root as context.

    BuildKit prefers `<Dockerfile>.dockerignore` beside the Dockerfile over the root
    `.dockerignore`; docker-py applies the patterns with Docker's matching rules.
    """
    specific = dockerfile.with_name(dockerfile.name + ".dockerignore")
    ignore_file = specific if specific.exists() else REPO / ".dockerignore"
    return set(exclude_paths(str(REPO), read_ignore_file(ignore_file)))


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_hadolint_finds_nothing(dockerfile: Path) -> None:
    result = subprocess.run(
        [venv_tool("hadolint"), "--no-color", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_every_hadolint_ignore_says_why(dockerfile: Path) -> None:
    lines = dockerfile.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore=" in line:
            previous = lines[number - 1].strip() if number else ""
            assert previous.startswith("#") and "hadolint" not in previous, (
                f"{dockerfile.name}:{number + 1}: put the reason in a comment above the ignore"
            )


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_base_images_are_pinned(dockerfile: Path) -> None:
    for image in parse(dockerfile).parent_images:
        _, _, tag = image.partition(":")
        assert tag and tag != "latest", f"{dockerfile}: pin {image}"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_final_stage_runs_as_non_root(dockerfile: Path) -> None:
    users = [i["value"] for i in final_stage(dockerfile) if i["instruction"] == "USER"]
    assert users, f"{dockerfile}: the final stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}, user


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_final_stage_does_not_write_bytecode(dockerfile: Path) -> None:
    env = dict(
        item.split("=", 1)
        for value in (i["value"] for i in final_stage(dockerfile) if i["instruction"] == "ENV")
        for item in shlex.split(value)
    )
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_the_build_compiles_the_bytecode_the_runtime_will_not_write(dockerfile: Path) -> None:
    assert "--compile-bytecode" in sync_command(dockerfile)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_build_context_has_what_the_dockerfile_copies(dockerfile: Path) -> None:
    context = build_context(dockerfile)
    for value in instructions(dockerfile, "COPY"):
        if value.startswith("--from="):
            continue
        *sources, _ = shlex.split(value)
        for source in sources:
            present = source in context or any(path.startswith(f"{source}/") for path in context)
            assert present, f"{dockerfile}: COPY {source} is missing from the build context"


@pytest.mark.parametrize("dockerfile", [*DOCKERFILES, REPO / "Dockerfile"], ids=str)
def test_build_context_leaves_out_models_data_venv_and_generated_stubs(
    dockerfile: Path,
) -> None:
    # REPO / "Dockerfile" does not exist: it stands for any build that uses the root
    # .dockerignore (the legacy builder ignores Dockerfile-specific ignore files).
    context = build_context(dockerfile)
    leaked = {
        path
        for path in context
        if path.split("/")[0] in {str(defaults.MODELS_DIR), str(defaults.DATA_DIR), ".venv"}
        or re.search(r"_pb2(_grpc)?\.pyi?$", path)
        or "__pycache__" in path
    }
    assert not leaked, sorted(leaked)[:10]


def test_gateway_context_has_neither_trainer_nor_model_server() -> None:
    top_level = {path.split("/")[0] for path in build_context(GATEWAY_DOCKERFILE)}
    assert not top_level & {"trainer", "tfserving", "console"}, top_level


def test_gateway_image_installs_no_tensorflow() -> None:
    assert installed_extras(GATEWAY_DOCKERFILE) == set()
    assert not locked_distributions(sync_command(GATEWAY_DOCKERFILE)) & HEAVY_PACKAGES


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_images_install_exactly_the_lock(dockerfile: Path) -> None:
    """`uv sync --locked` refuses a lock out of date with pyproject.toml and checks hashes."""
    arguments = sync_command(dockerfile)
    assert {"--locked", "--no-editable"} <= set(arguments), arguments


@pytest.mark.parametrize(
    "dockerfile",
    [GATEWAY_DOCKERFILE, REGISTRY_DOCKERFILE, CONSOLE_DOCKERFILE],
    ids=lambda p: p.parent.name,
)
def test_slim_images_are_multi_stage_and_runtime_gets_only_the_venv(dockerfile: Path) -> None:
    assert len(instructions(dockerfile, "FROM")) >= 2
    copies = [i["value"] for i in final_stage(dockerfile) if i["instruction"] == "COPY"]
    assert copies == ["--from=build /opt/venv /opt/venv"]


def test_gateway_image_listens_where_its_healthcheck_looks() -> None:
    (healthcheck,) = instructions(GATEWAY_DOCKERFILE, "HEALTHCHECK")
    assert "/readyz" in healthcheck
    assert instructions(GATEWAY_DOCKERFILE, "EXPOSE") == [str(defaults.GATEWAY_PORT)]
    assert parse(GATEWAY_DOCKERFILE).envs["COVERTYPE_GATEWAY_PORT"] == str(defaults.GATEWAY_PORT)


def test_trainer_image_installs_the_trainer_and_mounts_data_and_models() -> None:
    # The registry extra: `covertype train --registry s3://...` publishes with boto3.
    assert installed_extras(TRAINER_DOCKERFILE) == {"trainer", "registry"}
    assert {"tensorflow", "keras", "boto3"} <= locked_distributions(
        sync_command(TRAINER_DOCKERFILE)
    )
    (workdir,) = [
        i["value"] for i in final_stage(TRAINER_DOCKERFILE) if i["instruction"] == "WORKDIR"
    ]
    (volumes,) = instructions(TRAINER_DOCKERFILE, "VOLUME")
    assert set(json.loads(volumes)) == {
        f"{workdir}/{defaults.DATA_DIR}",
        f"{workdir}/{defaults.MODELS_DIR}",
    }


def test_registry_context_has_only_the_sync() -> None:
    top_level = {path.split("/")[0] for path in build_context(REGISTRY_DOCKERFILE)}
    others = {"trainer", "tfserving", "gateway", "release", "monitoring", "console"}
    assert not top_level & others, top_level


def test_registry_image_installs_boto3_and_no_tensorflow() -> None:
    assert installed_extras(REGISTRY_DOCKERFILE) == {"registry"}
    distributions = locked_distributions(sync_command(REGISTRY_DOCKERFILE))
    assert "boto3" in distributions
    assert not distributions & HEAVY_PACKAGES, distributions & HEAVY_PACKAGES


def image_command_line(dockerfile: Path) -> list[str]:
    """The image's ENTRYPOINT and CMD (exec form), as one command line."""
    (entrypoint,) = instructions(dockerfile, "ENTRYPOINT")
    (command,) = instructions(dockerfile, "CMD")
    return [*json.loads(entrypoint), *json.loads(command)]


def test_registry_image_runs_the_sync_and_checks_its_health_endpoint() -> None:
    from covertype.cli import build_parser

    program, *arguments = image_command_line(REGISTRY_DOCKERFILE)
    assert program == "covertype"
    args = build_parser().parse_args(arguments)
    assert arguments[0] == "sync" and callable(args.handler)
    (healthcheck,) = instructions(REGISTRY_DOCKERFILE, "HEALTHCHECK")
    assert f"http://127.0.0.1:{args.metrics_port}/healthz" in healthcheck
    assert instructions(REGISTRY_DOCKERFILE, "EXPOSE") == [str(args.metrics_port)]
    # Inside a container the metrics port must be reachable from outside it.
    assert args.metrics_host == "0.0.0.0"
    (volume_owner,) = re.findall(
        r"install -d -o covertype -g covertype -m 0755 (\S+)",
        "".join(instructions(REGISTRY_DOCKERFILE, "RUN")),
    )
    assert str(args.models_dir) == volume_owner, "the sync must own the models folder it writes"


def test_console_context_has_neither_trainer_nor_servers() -> None:
    top_level = {path.split("/")[0] for path in build_context(CONSOLE_DOCKERFILE)}
    assert not top_level & {"trainer", "tfserving", "gateway"}, top_level
    assert {"console", "registry", "release", "monitoring"} <= top_level


def test_console_image_installs_httpx_and_boto3_and_no_tensorflow() -> None:
    assert installed_extras(CONSOLE_DOCKERFILE) == {"console"}
    distributions = locked_distributions(sync_command(CONSOLE_DOCKERFILE))
    assert {"httpx", "boto3"} <= distributions
    assert not distributions & HEAVY_PACKAGES, distributions & HEAVY_PACKAGES


def test_console_image_serves_the_console_where_its_healthcheck_looks() -> None:
    from console.settings import DEFAULT_PORT
    from covertype.cli import build_parser

    program, *arguments = image_command_line(CONSOLE_DOCKERFILE)
    assert program == "covertype"
    args = build_parser().parse_args(arguments)
    assert arguments[0] == "console" and callable(args.handler)
    assert args.port == DEFAULT_PORT
    # Inside a container the console must be reachable from outside it.
    assert args.host == "0.0.0.0"
    (healthcheck,) = instructions(CONSOLE_DOCKERFILE, "HEALTHCHECK")
    assert f"http://127.0.0.1:{args.port}/healthz" in healthcheck
    assert instructions(CONSOLE_DOCKERFILE, "EXPOSE") == [str(args.port)]
    # The gateway's service name in compose and in the Kubernetes manifests.
    assert args.gateway == f"http://gateway:{defaults.GATEWAY_PORT}"
