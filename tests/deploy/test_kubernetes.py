"""deploy/k8s: every overlay builds, every object is schema-valid, and the wiring holds."""

import re
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlparse

import kubernetes_validate
import pytest

from covertype import defaults
from gateway.settings import ENV_VARS, load_settings

from .manifests import (
    AWS_VARIABLES,
    COMPOSE_FILE,
    COMPOSE_REGISTRY_FILE,
    K8S_BASE,
    K8S_DIR,
    K8S_OVERLAYS,
    REPO,
    TFSERVING_IMAGE,
    containers,
    find,
    flag_values,
    grpc_target_address,
    image_tag,
    kustomize,
    load_yaml,
    merge_services,
    parse_model_server_config,
    read_env_file,
    serve_args,
    sync_args,
)

# The oldest Kubernetes the manifests promise to work on, and the newest schema we have.
# 1.30: the preStop `sleep` action is on by default (beta) from there.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
BUILDS = [K8S_BASE, *K8S_OVERLAYS]


@pytest.fixture(scope="module", params=BUILDS, ids=lambda path: path.name)
def objects(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return kustomize(request.param)


@pytest.fixture(scope="module")
def overlays() -> dict[str, list[dict[str, Any]]]:
    return {path.name: kustomize(path) for path in K8S_OVERLAYS}


def config_files(objects: list[dict[str, Any]]) -> dict[str, str]:
    return find(objects, "ConfigMap", "tfserving-config")["data"]


def tfserving_container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The model server itself (the s3 overlay adds a sync sidecar beside it)."""
    pod = find(objects, "Deployment", "tfserving")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["name"] == "tfserving"
    return container


def synced_config(objects: list[dict[str, Any]]) -> bool:
    """True where models.config is written by a sync in the pod, not shipped in the ConfigMap."""
    return "models.config" not in config_files(objects)


def mount_for(container: dict[str, Any], path: str) -> dict[str, Any]:
    for mount in container.get("volumeMounts", []):
        if PurePosixPath(path).is_relative_to(mount["mountPath"]):
            return mount
    raise AssertionError(f"{path} is not mounted in {container['name']}")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_for_kubernetes(objects: list[dict[str, Any]], version: str) -> None:
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} on {version}: {error.message}")


def test_config_map_holds_the_model_servers_own_config_files() -> None:
    for name in ("models.config", "batching.config", "monitoring.config"):
        copy = (K8S_BASE / "config" / name).read_text(encoding="utf-8")
        original = (REPO / "tfserving" / name).read_text(encoding="utf-8")
        assert copy == original, f"deploy/k8s/base/config/{name} differs from tfserving/{name}"


def test_tfserving_runs_the_same_command_as_in_compose(objects: list[dict[str, Any]]) -> None:
    """Folder mode as compose.yaml; with a sync, as compose.registry.yaml over it."""
    container = tfserving_container(objects)
    services = load_yaml(COMPOSE_FILE)["services"]
    if synced_config(objects):
        services = merge_services(services, load_yaml(COMPOSE_REGISTRY_FILE)["services"])
    compose = services["tfserving"]
    assert container["image"] == compose["image"]
    assert container["command"] == compose["entrypoint"]
    assert container["args"] == compose["command"]
    args = serve_args(container["args"])
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"grpc": args.port, "http": args.rest_api_port}
    assert (args.port, args.rest_api_port) == (defaults.GRPC_PORT, defaults.REST_PORT)


def test_tfserving_reads_its_config_and_models_where_they_are_mounted(
    objects: list[dict[str, Any]],
) -> None:
    container = tfserving_container(objects)
    flags = flag_values(container["args"])
    files = config_files(objects)
    config_mount = mount_for(container, flags["batching_parameters_file"])
    config_flags = ["batching_parameters_file", "monitoring_config_file"]
    if not synced_config(objects):  # else test_s3_overlay_*: the sync writes models.config
        config_flags.append("model_config_file")
    for flag in config_flags:
        path = PurePosixPath(flags[flag])
        assert mount_for(container, str(path)) == config_mount
        assert path.name in files, f"--{flag}: {path.name} is not in the ConfigMap"
    if synced_config(objects):
        return
    config = parse_model_server_config(files[PurePosixPath(flags["model_config_file"]).name])
    (model,) = config.model_config_list.config
    assert model.name == defaults.MODEL_NAME
    if model.base_path.startswith("gs://"):
        assert "models" not in {m["name"] for m in container["volumeMounts"]}
        return
    models_mount = mount_for(container, model.base_path)
    assert models_mount["readOnly"] is True
    pod = find(objects, "Deployment", "tfserving")["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == models_mount["name"]]
    claim = find(objects, "PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


def test_tfserving_liveness_asks_the_grpc_port(objects: list[dict[str, Any]]) -> None:
    """Startup and readiness run compose's check, run for real in test_healthchecks.py."""
    container = tfserving_container(objects)
    assert container["livenessProbe"]["tcpSocket"]["port"] == "grpc"


def test_gateway_talks_to_the_tfserving_service(objects: list[dict[str, Any]]) -> None:
    (container,) = containers(find(objects, "Deployment", "gateway"))
    env = {item["name"]: item["value"] for item in container["env"]}
    assert set(env) <= set(ENV_VARS.values())
    settings = load_settings({}, environ=env)
    assert settings.tfserving.startswith("dns:///"), "the gateway must resolve every replica"
    host, port = grpc_target_address(settings.tfserving)
    service = find(objects, "Service", host)
    assert service["spec"]["clusterIP"] == "None", "a headless Service lists every pod"
    assert port in {p["port"] for p in service["spec"]["ports"] if p["name"] == "grpc"}
    assert service["spec"]["selector"].items() <= tfserving_pod_labels(objects).items()
    assert settings.port == defaults.GATEWAY_PORT
    if synced_config(objects):
        # The labels live in each model server pod's synced config; none would be stale.
        assert settings.model_config_file is None
    else:
        assert settings.model_config_file is not None
        assert mount_for(container, str(settings.model_config_file))["readOnly"] is True
        config_name = PurePosixPath(settings.model_config_file).name
        assert config_name in config_files(objects)
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def selected_deployment(objects: list[dict[str, Any]], selector: dict[str, str]) -> dict[str, Any]:
    """The one Deployment whose pods carry every label of `selector`."""
    (deployment,) = [
        obj
        for obj in objects
        if obj["kind"] == "Deployment"
        and selector.items() <= obj["spec"]["template"]["metadata"]["labels"].items()
    ]
    return deployment


def tfserving_pod_labels(objects: list[dict[str, Any]]) -> dict[str, str]:
    return find(objects, "Deployment", "tfserving")["spec"]["template"]["metadata"]["labels"]


def test_services_select_pods_and_name_their_ports(objects: list[dict[str, Any]]) -> None:
    for service in (obj for obj in objects if obj["kind"] == "Service"):
        deployment = selected_deployment(objects, service["spec"]["selector"])
        template = deployment["spec"]["template"]
        labels = template["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
        port_names = {p["name"] for c in template["spec"]["containers"] for p in c["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names


def test_gateway_is_autoscaled_and_protected_from_disruption(
    objects: list[dict[str, Any]],
) -> None:
    deployment = find(objects, "Deployment", "gateway")
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    hpa = find(objects, "HorizontalPodAutoscaler", "gateway")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    for name in ("gateway", "tfserving"):
        pdb = find(objects, "PodDisruptionBudget", name)
        selected = find(objects, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= selected.items()
    assert find(objects, "PodDisruptionBudget", "gateway")["spec"]["minAvailable"] >= 1


def test_pods_run_as_non_root_with_limits_and_probes(objects: list[dict[str, Any]]) -> None:
    for deployment in (obj for obj in objects if obj["kind"] == "Deployment"):
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] > 0, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        for container in containers(deployment):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), name
            assert {"cpu", "memory"} <= container["resources"]["limits"].keys(), name
            assert {"readinessProbe", "livenessProbe"} <= container.keys(), name
            _, tag = image_tag(container["image"])
            assert tag != "latest", name


@pytest.mark.parametrize("overlay", [path.name for path in K8S_OVERLAYS])
def test_overlays_run_under_the_restricted_pod_security_standard(
    overlays: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    """Every overlay builds on the example: its namespace holds every object, added ones too."""
    objects = overlays[overlay]
    namespace = find(objects, "Namespace", "covertype")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "covertype", obj["metadata"]["name"]
    for name in ("gateway", "console"):
        (container,) = containers(find(objects, "Deployment", name))
        assert "/" in image_tag(container["image"])[0], f"the example pulls {name} from a registry"
    assert image_tag(tfserving_container(objects)["image"])[0] == TFSERVING_IMAGE
    for container in containers(find(objects, "Deployment", "tfserving")):
        if container["name"] != "tfserving":
            assert "/" in image_tag(container["image"])[0], container["name"]


def test_gcs_overlay_reads_models_from_object_storage(
    overlays: dict[str, list[dict[str, Any]]],
) -> None:
    objects = overlays["gcs"]
    assert not [obj for obj in objects if obj["kind"] == "PersistentVolumeClaim"]
    config = parse_model_server_config(config_files(objects)["models.config"])
    (model,) = config.model_config_list.config
    assert model.base_path.startswith("gs://")
    pod = find(objects, "Deployment", "tfserving")["spec"]["template"]["spec"]
    account = find(objects, "ServiceAccount", pod["serviceAccountName"])
    assert "iam.gke.io/gcp-service-account" in account["metadata"]["annotations"]


def test_gcs_models_config_differs_from_the_model_servers_only_in_base_path(
    overlays: dict[str, list[dict[str, Any]]],
) -> None:
    gcs = parse_model_server_config(config_files(overlays["gcs"])["models.config"])
    original = parse_model_server_config(
        (REPO / "tfserving" / "models.config").read_text(encoding="utf-8")
    )
    original.model_config_list.config[0].base_path = gcs.model_config_list.config[0].base_path
    assert gcs == original


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_models_loader_pod_is_valid_and_mounts_the_models_claim(version: str) -> None:
    pod = load_yaml(K8S_DIR / "tools" / "models-loader.yaml")
    kubernetes_validate.validate(pod, version, strict=True)
    (volume,) = pod["spec"]["volumes"]
    base = kustomize(K8S_BASE)
    claim = find(base, "PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["spec"]["containers"]
    assert image_tag(container["image"])[1] != "latest"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def cpu_cores(quantity: str) -> float:
    """A Kubernetes CPU quantity ("2", "500m") in cores."""
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def gateway_settings(objects: list[dict[str, Any]]) -> Any:
    (container,) = containers(find(objects, "Deployment", "gateway"))
    return load_settings({}, environ={item["name"]: item["value"] for item in container["env"]})


def test_only_gateways_and_labelled_clients_reach_the_model_server(
    objects: list[dict[str, Any]],
) -> None:
    (policy,) = [
        obj
        for obj in objects
        if obj["kind"] == "NetworkPolicy"
        and obj["spec"]["podSelector"]["matchLabels"].items()
        <= tfserving_pod_labels(objects).items()
    ]
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    gateway_labels = find(objects, "Deployment", "gateway")["spec"]["template"]["metadata"][
        "labels"
    ]
    grpc_peers = []
    for rule in policy["spec"]["ingress"]:
        if "grpc" in {port["port"] for port in rule["ports"]}:
            grpc_peers.extend(rule["from"])
    # The gRPC port (Predict, and HandleReloadConfigRequest) admits pods of this
    # namespace by label only: the gateway's, and explicitly labelled clients.
    assert all(peer.keys() == {"podSelector"} for peer in grpc_peers), grpc_peers
    selectors = [peer["podSelector"]["matchLabels"] for peer in grpc_peers]
    assert any(selector.items() <= gateway_labels.items() for selector in selectors)
    assert all(selector for selector in selectors), "an empty selector admits every pod"
    assert {"covertype.io/model-server-client": "true"} in selectors


def test_pods_drain_within_their_grace_period(objects: list[dict[str, Any]]) -> None:
    drain_seconds = {
        # uvicorn's graceful shutdown: the backend deadline, plus one second.
        "gateway": gateway_settings(objects).timeout_seconds + 1,
        # calls in flight: bounded by the gateway's deadline.
        "tfserving": gateway_settings(objects).timeout_seconds,
    }
    for name, drain in drain_seconds.items():
        pod = find(objects, "Deployment", name)["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert pre_stop >= 1, name
        assert pre_stop + drain < pod["terminationGracePeriodSeconds"], name


def test_model_server_threads_are_sized_to_its_cpu_limit(objects: list[dict[str, Any]]) -> None:
    container = tfserving_container(objects)
    cores = cpu_cores(container["resources"]["limits"]["cpu"])
    args = serve_args(container["args"])
    assert args.grpc_max_threads is not None and args.grpc_max_threads <= 4 * cores
    assert args.rest_api_num_threads is not None and args.rest_api_num_threads <= 4 * cores
    assert args.tensorflow_inter_op_parallelism is not None
    assert 1 <= args.tensorflow_inter_op_parallelism <= cores
    assert args.tensorflow_intra_op_parallelism is not None
    assert 1 <= args.tensorflow_intra_op_parallelism <= cores
    batching = config_files(objects)["batching.config"]
    (threads,) = re.findall(r"num_batch_threads \{ value: (\d+) \}", batching)
    assert int(threads) <= cores


def test_gateways_reach_every_model_server_replica_and_new_ones(
    objects: list[dict[str, Any]],
) -> None:
    replicas = find(objects, "Deployment", "tfserving")["spec"]["replicas"]
    settings = gateway_settings(objects)
    # One call in flight per replica at least, or some replicas idle.
    assert settings.max_concurrent_calls >= replicas
    channel_arguments = dict(
        pair.split("=", 1)
        for pair in serve_args(tfserving_container(objects)["args"]).grpc_channel_arguments.split(
            ","
        )
    )
    # Connections that end make gRPC re-resolve the headless Service: new pods get traffic.
    assert int(channel_arguments["grpc.max_connection_age_ms"]) <= 60_000
    # Calls in flight when a connection ages out may finish within the gateway's deadline.
    assert int(channel_arguments["grpc.max_connection_age_grace_ms"]) >= (
        settings.timeout_seconds * 1000
    )


# The s3 overlay: models from an S3 registry through a sync sidecar in each model server pod.


def sync_container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    pod = find(objects, "Deployment", "tfserving")["spec"]["template"]["spec"]
    (sync,) = [c for c in pod.get("initContainers", []) if c["name"] == "sync"]
    return sync


def test_s3_overlay_syncs_the_registry_into_the_folder_the_server_polls(
    overlays: dict[str, list[dict[str, Any]]],
) -> None:
    objects = overlays["s3"]
    sync, tfserving = sync_container(objects), tfserving_container(objects)
    args = sync_args(sync["args"])
    assert str(args.registry).startswith("s3://")
    assert args.model_name == defaults.MODEL_NAME
    assert flag_values(tfserving["args"])["model_config_file"] == str(args.config_file)
    assert int(flag_values(tfserving["args"])["model_config_file_poll_wait_seconds"]) <= 10
    # Both mount one volume at the same path: the base path the sync writes into
    # models.config (<models-dir>/<model>) is the folder the server reads.
    served = mount_for(tfserving, str(args.config_file))
    written = mount_for(sync, str(args.config_file))
    assert served["name"] == written["name"]
    assert served["mountPath"] == written["mountPath"] == str(args.models_dir)
    assert served["readOnly"] is True
    assert not written.get("readOnly", False)
    pod = find(objects, "Deployment", "tfserving")["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == served["name"]]
    assert set(volume) == {"name", "emptyDir"}, volume
    assert not [obj for obj in objects if obj["kind"] == "PersistentVolumeClaim"]
    # No hash-suffixed ConfigMap holds models.config: the sync's file is the only one.
    assert synced_config(objects)


def test_s3_overlay_sync_is_a_native_sidecar_the_server_waits_for(
    overlays: dict[str, list[dict[str, Any]]],
) -> None:
    """tensorflow_model_server does not start without its config file: the sync's startup
    probe passes after the first complete sync, and only then does the server start."""
    objects = overlays["s3"]
    sync = sync_container(objects)
    args = sync_args(sync["args"])
    assert sync["restartPolicy"] == "Always"
    ports = {port["name"]: port["containerPort"] for port in sync["ports"]}
    (port_name,) = [name for name, number in ports.items() if number == args.metrics_port]
    assert args.metrics_host == "0.0.0.0", "probes and Prometheus reach the pod's address"
    for probe, path in (
        ("startupProbe", "/readyz"),
        ("readinessProbe", "/readyz"),
        ("livenessProbe", "/healthz"),
    ):
        assert sync[probe]["httpGet"] == {"path": path, "port": port_name}, probe
    (_, scrape) = find(objects, "NetworkPolicy", "tfserving")["spec"]["ingress"]
    assert port_name in {port["port"] for port in scrape["ports"]}


def test_s3_overlay_credentials_come_from_an_example_secret(
    overlays: dict[str, list[dict[str, Any]]],
) -> None:
    objects = overlays["s3"]
    secret = find(objects, "Secret", "covertype-registry")
    for container in (sync_container(objects), console_container(objects)):
        env = {item["name"]: item for item in container["env"]}
        assert set(env) == AWS_VARIABLES, container["name"]
        for name, item in env.items():
            assert "value" not in item, f"{container['name']}: {name} must come from the Secret"
            reference = item["valueFrom"]["secretKeyRef"]
            assert reference["name"] == secret["metadata"]["name"], "kustomize's hashed name"
            assert reference["key"] in secret["data"] or reference.get("optional") is True, name
    kustomization = load_yaml(K8S_DIR / "overlays" / "s3" / "kustomization.yaml")
    (generator,) = kustomization["secretGenerator"]
    (source,) = generator["envs"]
    assert source.endswith(".example.env")
    values = read_env_file(K8S_DIR / "overlays" / "s3" / source)
    assert set(values) == AWS_VARIABLES
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert "EXAMPLE" in values[name], f"{name}: an example value, never a real key"


# The operator's console: one replica beside the gateways, reading them and the registry.


def console_container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = containers(find(objects, "Deployment", "console"))
    return container


def console_args(container: dict[str, Any]) -> Any:
    """The console container's args, parsed by the `covertype` command's own parser."""
    from covertype.cli import build_parser

    assert container["args"][0] == "console", container["args"]
    flag_values(container["args"][1:])  # every flag as --name=value
    return build_parser().parse_args(container["args"])


def test_console_reads_the_gateway_service_and_serves_its_own(
    objects: list[dict[str, Any]],
) -> None:
    from console.settings import DEFAULT_PORT

    assert find(objects, "Deployment", "console")["spec"]["replicas"] == 1
    container = console_container(objects)
    args = console_args(container)
    gateway = urlparse(args.gateway)
    service = find(objects, "Service", str(gateway.hostname))
    assert gateway.port in {port["port"] for port in service["spec"]["ports"]}
    gateway_labels = find(objects, "Deployment", "gateway")["spec"]["template"]["metadata"][
        "labels"
    ]
    assert service["spec"]["selector"].items() <= gateway_labels.items()
    assert args.model_name == defaults.MODEL_NAME
    assert (args.host, args.port) == ("0.0.0.0", DEFAULT_PORT), "probes reach the pod's address"
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": args.port}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}, probe
    (port,) = find(objects, "Service", "console")["spec"]["ports"]
    assert (port["port"], port["targetPort"]) == (args.port, "http")
    # Each gateway pod would keep its own log on its own filesystem: no drift panel here.
    assert gateway_settings(objects).prediction_log is None
    assert args.prediction_log is None


def models_in_gcs(objects: list[dict[str, Any]]) -> bool:
    """True where the model servers read their versions from a gs:// base path."""
    if synced_config(objects):
        return False
    config = parse_model_server_config(config_files(objects)["models.config"])
    (model,) = config.model_config_list.config
    return model.base_path.startswith("gs://")


def test_console_reads_the_registry_the_model_servers_get_their_versions_from(
    objects: list[dict[str, Any]],
) -> None:
    container = console_container(objects)
    args = console_args(container)
    pod = find(objects, "Deployment", "console")["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    if synced_config(objects):  # the s3 overlay: the registry the syncs read, no volume
        assert str(args.registry) == str(sync_args(sync_container(objects)["args"]).registry)
        assert set(volumes) == {"tmp"}
    elif models_in_gcs(objects):  # a TF Serving base path in GCS is no registry; no volume
        assert args.registry is None
        assert set(volumes) == {"tmp"}
    else:  # the models volume the model servers read, read-only
        mount = mount_for(container, str(args.registry))
        assert mount["mountPath"] == args.registry and mount["readOnly"] is True
        claim = volumes[mount["name"]]["persistentVolumeClaim"]
        served = mount_for(tfserving_container(objects), "/models")
        tfserving_pod = find(objects, "Deployment", "tfserving")["spec"]["template"]["spec"]
        (tfserving_volume,) = [v for v in tfserving_pod["volumes"] if v["name"] == served["name"]]
        assert claim["claimName"] == tfserving_volume["persistentVolumeClaim"]["claimName"]
        assert claim["readOnly"] is True
    assert "env" not in container or synced_config(objects), "credentials only for s3"
