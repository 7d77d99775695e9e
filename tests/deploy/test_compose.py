"""compose.yaml (and compose.registry.yaml over it): valid Compose, wired as the servers expect."""

import re
import subprocess
import sys
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

import covertype
from covertype import defaults
from gateway.settings import ENV_VARS, load_settings

from .manifests import (
    AWS_VARIABLES,
    COMPOSE_FILE,
    COMPOSE_REGISTRY_FILE,
    REPO,
    TFSERVING_IMAGE,
    flag_values,
    grpc_target_address,
    image_tag,
    load_yaml,
    merge_services,
    parse_model_server_config,
    pinned_version,
    read_env_file,
    serve_args,
    sync_args,
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE_FILE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


@pytest.fixture(scope="module")
def registry_override() -> dict[str, Any]:
    return load_yaml(COMPOSE_REGISTRY_FILE)


@pytest.fixture(scope="module")
def registry_services(
    services: dict[str, Any], registry_override: dict[str, Any]
) -> dict[str, Any]:
    """The services of `docker compose -f compose.yaml -f compose.registry.yaml`."""
    return merge_services(services, registry_override["services"])


def mounts(service: dict[str, Any], kind: str = "bind") -> dict[str, dict[str, Any]]:
    """The service's mounts of `kind` (bind or volume) by container path (long syntax only)."""
    found = {}
    for volume in service.get("volumes", []):
        assert isinstance(volume, dict), f"use the long volume syntax: {volume!r}"
        if volume["type"] == kind:
            found[volume["target"]] = volume
    return found


def host_path(container_path: str, service: dict[str, Any]) -> PurePosixPath:
    """The repository path that `container_path` comes from through the service's mounts."""
    path = PurePosixPath(container_path)
    for target, mount in mounts(service).items():
        if path.is_relative_to(target):
            return PurePosixPath(mount["source"]) / path.relative_to(target)
    raise AssertionError(f"{container_path} is not inside any bind mount")


def published(service: dict[str, Any]) -> dict[int, tuple[str, int]]:
    """Container port -> (host address, host port) for every `ADDR:HOST:CONTAINER` mapping."""
    ports = {}
    for mapping in service["ports"]:
        address, host, container = mapping.split(":")
        ports[int(container)] = (address, int(host))
    return ports


@pytest.mark.parametrize("path", [COMPOSE_FILE, COMPOSE_REGISTRY_FILE], ids=lambda p: p.name)
def test_compose_file_is_valid_against_the_compose_specification(path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_image_has_a_pinned_tag(registry_services: dict[str, Any]) -> None:
    for name, service in registry_services.items():
        _, tag = image_tag(service["image"])
        assert tag != "latest", f"{name}: pin a version, not latest"


def test_tfserving_image_matches_the_tensorflow_the_trainer_exports_with(
    services: dict[str, Any],
) -> None:
    name, tag = image_tag(services["tfserving"]["image"])
    assert name == TFSERVING_IMAGE
    assert tag == pinned_version("tensorflow")


def test_built_images_are_tagged_with_the_project_version(
    registry_services: dict[str, Any],
) -> None:
    built = {name: s for name, s in registry_services.items() if "build" in s}
    assert set(built) == {"gateway", "trainer", "sync", "console"}
    for service in built.values():
        dockerfile = PurePosixPath(service["build"]["dockerfile"])
        assert (REPO / dockerfile).is_file()
        assert service["build"]["context"] == "."
        # Each image is named after the folder of its Dockerfile: covertype-registry for the sync.
        assert image_tag(service["image"]) == (
            f"covertype-{dockerfile.parent}",
            covertype.__version__,
        )


def test_tfserving_command_is_accepted_by_covertype_serve(services: dict[str, Any]) -> None:
    service = services["tfserving"]
    assert service["entrypoint"] == ["tensorflow_model_server"]
    args = serve_args(service["command"])
    assert args.port == defaults.GRPC_PORT
    assert args.rest_api_port == defaults.REST_PORT
    flags = flag_values(service["command"])
    assert flags["file_system_poll_wait_seconds"] == "1"
    assert int(flags["model_config_file_poll_wait_seconds"]) > 0
    assert flags["enable_batching"] == "true"
    assert flags["enable_model_warmup"] == "true"


def test_tfserving_config_files_come_from_the_tfserving_folder(services: dict[str, Any]) -> None:
    service = services["tfserving"]
    flags = flag_values(service["command"])
    config_mount = mounts(service)[str(PurePosixPath(flags["model_config_file"]).parent)]
    assert config_mount["source"] == "./tfserving"
    assert config_mount["read_only"] is True
    for flag in ("model_config_file", "batching_parameters_file", "monitoring_config_file"):
        source = REPO / host_path(flags[flag], service)
        assert source.is_file(), f"--{flag}={flags[flag]} maps to {source}, which is missing"


def test_models_config_base_path_is_the_mounted_models_folder(services: dict[str, Any]) -> None:
    service = services["tfserving"]
    flags = flag_values(service["command"])
    config_file = REPO / host_path(flags["model_config_file"], service)
    config = parse_model_server_config(config_file.read_text(encoding="utf-8"))
    (model,) = config.model_config_list.config
    assert model.name == defaults.MODEL_NAME
    base_path = PurePosixPath(model.base_path)
    assert base_path.is_absolute(), "TF Serving needs an absolute base path"
    source = host_path(str(base_path), service)
    assert source == PurePosixPath("models") / defaults.MODEL_NAME
    models_mount = mounts(service)[str(base_path.parent)]
    assert models_mount["read_only"] is True


def test_tfserving_publishes_its_ports_on_loopback(services: dict[str, Any]) -> None:
    assert published(services["tfserving"]) == {
        defaults.GRPC_PORT: (defaults.HOST, defaults.GRPC_PORT),
        defaults.REST_PORT: (defaults.HOST, defaults.REST_PORT),
    }


def test_gateway_environment_is_what_the_gateway_reads(services: dict[str, Any]) -> None:
    environment = services["gateway"]["environment"]
    unknown = set(environment) - set(ENV_VARS.values())
    assert not unknown, f"the gateway reads no such variables: {sorted(unknown)}"
    settings = load_settings({}, environ=environment)
    assert settings.tfserving.startswith("dns:///"), "every replica, not the first address"
    assert grpc_target_address(settings.tfserving) == ("tfserving", defaults.GRPC_PORT)
    assert settings.port == defaults.GATEWAY_PORT
    assert settings.model_name == defaults.MODEL_NAME
    assert settings.host == "0.0.0.0"
    assert settings.model_config_file is not None
    tfserving_flags = flag_values(services["tfserving"]["command"])
    assert host_path(str(settings.model_config_file), services["gateway"]) == host_path(
        tfserving_flags["model_config_file"], services["tfserving"]
    ), "the gateway must read the same models.config as the model server"


def test_gateway_waits_for_a_healthy_model_server(
    services: dict[str, Any],
) -> None:
    gateway = services["gateway"]
    assert gateway["depends_on"] == {"tfserving": {"condition": "service_healthy"}}
    assert published(gateway) == {defaults.GATEWAY_PORT: (defaults.HOST, defaults.GATEWAY_PORT)}


def test_gateway_writes_its_prediction_log_to_a_named_volume(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    gateway = services["gateway"]
    settings = load_settings({}, environ=gateway["environment"])
    assert settings.prediction_log is not None
    (volume,) = mounts(gateway, "volume").values()
    assert PurePosixPath(settings.prediction_log).parent == PurePosixPath(volume["target"])
    assert volume["source"] in compose["volumes"]


def console_args(service: dict[str, Any]) -> Any:
    """The console service's command, parsed by the `covertype` command's own parser."""
    from covertype.cli import build_parser

    assert service["command"][0] == "console"
    flag_values(service["command"][1:])  # every flag as --name=value
    return build_parser().parse_args(service["command"])


def test_console_reads_the_gateway_the_models_and_the_prediction_log(
    services: dict[str, Any],
) -> None:
    console, gateway = services["console"], services["gateway"]
    args = console_args(console)
    assert args.gateway == f"http://gateway:{defaults.GATEWAY_PORT}"
    assert defaults.GATEWAY_PORT in published(gateway), "the gateway listens there"
    assert args.model_name == defaults.MODEL_NAME
    # The registry is the models folder the model server serves from, read-only.
    tfserving_models = mounts(services["tfserving"])["/models"]
    assert host_path(args.registry, console) == PurePosixPath(tfserving_models["source"])
    assert mounts(console)[args.registry]["read_only"] is True
    # The log the gateway writes, through the same named volume, read-only.
    written = load_settings({}, environ=gateway["environment"]).prediction_log
    assert args.prediction_log == written
    read = volume_mount(console, str(args.prediction_log))
    assert read["source"] == volume_mount(gateway, str(written))["source"]
    assert read["target"] == volume_mount(gateway, str(written))["target"]
    assert read["read_only"] is True


def test_console_listens_on_loopback_once_the_gateway_is_healthy(
    services: dict[str, Any],
) -> None:
    from console.settings import DEFAULT_PORT

    console = services["console"]
    args = console_args(console)
    assert (args.host, args.port) == ("0.0.0.0", DEFAULT_PORT), "inside the container"
    assert published(console) == {DEFAULT_PORT: (defaults.HOST, DEFAULT_PORT)}
    assert console["depends_on"] == {"gateway": {"condition": "service_healthy"}}
    (check,) = [part for part in console["healthcheck"]["test"] if "urlopen" in part]
    assert f"http://127.0.0.1:{args.port}/healthz" in check
    assert console["read_only"] is True and console["tmpfs"] == ["/tmp"]
    assert console["restart"] == "unless-stopped"


def test_trainer_is_a_one_shot_job_with_data_and_models_mounted(
    services: dict[str, Any],
) -> None:
    trainer = services["trainer"]
    assert trainer["profiles"], "under a profile, so that `docker compose up` leaves it out"
    assert "restart" not in trainer and "ports" not in trainer
    by_source = {mount["source"]: mount for mount in mounts(trainer).values()}
    assert by_source["./data"]["read_only"] is True
    assert not by_source["./models"].get("read_only", False)
    # The image's working folder is /srv/covertype: the trainer's default relative
    # paths (data/, models/) land on the mounts.
    assert by_source["./data"]["target"] == f"/srv/covertype/{defaults.DATA_DIR}"
    assert by_source["./models"]["target"] == f"/srv/covertype/{defaults.MODELS_DIR}"


def test_trainer_command_is_a_covertype_command(services: dict[str, Any]) -> None:
    from covertype.cli import build_parser

    args = build_parser().parse_args(services["trainer"]["command"])
    assert callable(args.handler)


def test_model_server_and_trainer_run_as_the_same_user(services: dict[str, Any]) -> None:
    user = services["tfserving"]["user"]
    assert user == services["trainer"]["user"]
    assert re.fullmatch(r"\$\{COVERTYPE_UID:-\d+\}:\$\{COVERTYPE_GID:-\d+\}", user)


def test_services_drop_privileges(registry_services: dict[str, Any]) -> None:
    for name, service in registry_services.items():
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name


# Registry mode: compose.registry.yaml over compose.yaml.


def volume_mount(service: dict[str, Any], container_path: str) -> dict[str, Any]:
    """The named-volume mount of `service` that holds `container_path`."""
    for target, mount in mounts(service, "volume").items():
        if PurePosixPath(container_path).is_relative_to(target):
            return mount
    raise AssertionError(f"{container_path} is not inside any named volume")


def changed_flags(before: list[str], after: list[str]) -> set[str]:
    """The names of the `--name=value` flags that differ between two command lines."""
    old, new = flag_values(before), flag_values(after)
    return {flag for flag in old.keys() | new.keys() if old.get(flag) != new.get(flag)}


def registry_sync(registry_services: dict[str, Any]) -> Any:
    return sync_args(registry_services["sync"]["command"])


def test_registry_mode_changes_only_where_the_model_server_reads_its_config(
    services: dict[str, Any], registry_services: dict[str, Any]
) -> None:
    registry = flag_values(registry_services["tfserving"]["command"])
    serve_args(registry_services["tfserving"]["command"])
    changed = changed_flags(
        services["tfserving"]["command"], registry_services["tfserving"]["command"]
    )
    assert changed <= {"model_config_file", "model_config_file_poll_wait_seconds"}, changed
    assert int(registry["model_config_file_poll_wait_seconds"]) <= 10, "labels move in seconds"
    assert registry_services["tfserving"]["image"] == services["tfserving"]["image"]


def test_model_server_polls_the_config_and_versions_the_sync_writes(
    registry_services: dict[str, Any],
) -> None:
    tfserving, sync = registry_services["tfserving"], registry_services["sync"]
    args = registry_sync(registry_services)
    config_file = flag_values(tfserving["command"])["model_config_file"]
    assert str(args.config_file) == config_file
    # One named volume, mounted at the same path: the base path the sync writes into
    # models.config (<models-dir>/<model>) is where the model server finds the versions.
    assert mounts(sync, "volume") == {str(args.models_dir): volume_mount(sync, config_file)}
    served = volume_mount(tfserving, config_file)
    assert served["source"] == volume_mount(sync, config_file)["source"]
    assert served["target"] == str(args.models_dir)
    assert served["read_only"] is True
    assert not volume_mount(sync, config_file).get("read_only", False)
    assert str(args.models_dir) not in mounts(tfserving), "the ./models bind mount is replaced"
    assert args.model_name == defaults.MODEL_NAME
    # tensorflow_model_server does not start without its config file: the sync's
    # healthcheck passes once the first sync has written it.
    assert tfserving["depends_on"]["sync"] == {"condition": "service_healthy"}
    (check,) = [part for part in sync["healthcheck"]["test"] if "urlopen" in part]
    assert f"http://127.0.0.1:{args.metrics_port}/readyz" in check


def test_sync_serves_metrics_on_loopback_and_needs_the_bucket(
    registry_services: dict[str, Any],
) -> None:
    sync = registry_services["sync"]
    args = registry_sync(registry_services)
    assert args.metrics_host == "0.0.0.0", "inside the container, for the published port"
    assert published(sync) == {args.metrics_port: (defaults.HOST, args.metrics_port)}
    assert sync["depends_on"] == {
        "objectstore-init": {"condition": "service_completed_successfully"}
    }


def env_files(service: dict[str, Any]) -> dict[str, str]:
    values: dict[str, str] = {}
    for path in service["env_file"]:
        values.update(read_env_file(REPO / path))
    return values


def test_registry_credentials_come_from_example_env_files_only(
    registry_services: dict[str, Any],
) -> None:
    for name in ("sync", "trainer", "objectstore-init", "console"):
        service = registry_services[name]
        values = env_files(service)
        assert set(values) == AWS_VARIABLES, name
        assert not AWS_VARIABLES & set(service.get("environment", {})), name
        for path in service["env_file"]:
            assert PurePosixPath(path).name.endswith(".example.env"), path
        assert "example" in values["AWS_ACCESS_KEY_ID"]
        assert "example" in values["AWS_SECRET_ACCESS_KEY"]
    store = env_files(registry_services["objectstore"])
    keys = env_files(registry_services["sync"])
    assert (store["MINIO_ROOT_USER"], store["MINIO_ROOT_PASSWORD"]) == (
        keys["AWS_ACCESS_KEY_ID"],
        keys["AWS_SECRET_ACCESS_KEY"],
    )


def test_sync_and_trainer_reach_the_bucket_the_init_job_creates(
    registry_services: dict[str, Any],
) -> None:
    endpoint = env_files(registry_services["sync"])["AWS_ENDPOINT_URL"]
    assert endpoint == f"http://objectstore:{published(registry_services['objectstore'])[9000][1]}"
    registry = registry_sync(registry_services).registry
    bucket = str(registry).removeprefix("s3://").split("/")[0]
    (script,) = registry_services["objectstore-init"]["command"]
    assert f"mc mb --ignore-existing registry/{bucket}" in script
    assert f"mc version enable registry/{bucket}" in script
    trainer = registry_services["trainer"]
    from covertype.cli import build_parser

    train = build_parser().parse_args(trainer["command"])
    assert str(train.registry) == str(registry)
    assert trainer["depends_on"]["objectstore-init"] == {
        "condition": "service_completed_successfully"
    }


def test_registry_mode_gateway_reads_the_labels_the_model_server_polls(
    registry_services: dict[str, Any],
) -> None:
    gateway, tfserving = registry_services["gateway"], registry_services["tfserving"]
    settings = load_settings({}, environ=gateway["environment"])
    assert settings.model_config_file is not None
    config_file = str(settings.model_config_file)
    assert config_file == flag_values(tfserving["command"])["model_config_file"]
    assert volume_mount(gateway, config_file) == volume_mount(tfserving, config_file)


def test_registry_mode_console_reads_the_registry_the_sync_reads(
    services: dict[str, Any], registry_services: dict[str, Any]
) -> None:
    console = registry_services["console"]
    args = console_args(console)
    assert str(args.registry) == str(registry_sync(registry_services).registry)
    assert console["env_file"] == registry_services["sync"]["env_file"]
    changed = changed_flags(services["console"]["command"][1:], console["command"][1:])
    assert changed == {"registry"}, changed
    assert not mounts(console), "no host folder in registry mode"
    assert all(mount["read_only"] for mount in mounts(console, "volume").values())
