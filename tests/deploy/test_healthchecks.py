"""The health checks of compose.yaml, the Dockerfile and the Deployment, run for real.

No container runs here, so each check's own command runs on this machine against the
real servers: the model server check (bash, as in the tensorflow/serving image) against
`covertype serve`, which answers TF Serving's REST model status the same way, the
gateway checks (Python, as in the gateway image) against `covertype gateway`, and the
console checks against `covertype console`. Only the port numbers are swapped for the
free ports the servers got.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from console.settings import DEFAULT_PORT as CONSOLE_PORT
from covertype import defaults
from tests.support.console import start_console
from tests.support.gateway import RunningGateway, start_gateway
from tests.support.model_server import RunningModelServer
from tests.support.ports import free_port

from .conftest import UNPUBLISHED_MODEL
from .manifests import (
    COMPOSE_FILE,
    CONSOLE_DOCKERFILE,
    GATEWAY_DOCKERFILE,
    K8S_BASE,
    containers,
    find,
    instructions,
    kustomize,
    load_yaml,
)

CHECK_TIMEOUT_SECONDS = 10


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def compose_check(service: str) -> list[str]:
    """The `test` command of a compose service's healthcheck, without `CMD`."""
    kind, *command = load_yaml(COMPOSE_FILE)["services"][service]["healthcheck"]["test"]
    assert kind == "CMD"
    return command


def tfserving_check(rest_port: int, model_name: str = defaults.MODEL_NAME) -> list[str]:
    """compose's model server health check, aimed at `rest_port` and `model_name`."""
    program, flag, script = compose_check("tfserving")
    assert (program, flag) == ("bash", "-c")
    default_target = f"/dev/tcp/127.0.0.1/{defaults.REST_PORT}"
    default_request = f"GET /v1/models/{defaults.MODEL_NAME} "
    assert default_target in script and default_request in script
    script = script.replace(default_target, f"/dev/tcp/127.0.0.1/{rest_port}")
    return [program, flag, script.replace(default_request, f"GET /v1/models/{model_name} ")]


def run(command: list[str], env: dict[str, str] | None = None) -> int:
    result = subprocess.run(
        command,
        capture_output=True,
        timeout=CHECK_TIMEOUT_SECONDS,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return result.returncode


def test_kubernetes_probes_run_the_compose_check() -> None:
    (container,) = containers(find(kustomize(K8S_BASE), "Deployment", "tfserving"))
    for probe in ("startupProbe", "readinessProbe"):
        assert container[probe]["exec"]["command"] == compose_check("tfserving")


def test_tfserving_check_passes_while_the_model_is_available(
    model_server: RunningModelServer,
) -> None:
    assert run(tfserving_check(port_of(model_server.rest_url))) == 0


def test_tfserving_check_fails_for_a_model_the_server_does_not_have(
    model_server: RunningModelServer,
) -> None:
    assert run(tfserving_check(port_of(model_server.rest_url), "no_such_model")) != 0


def test_tfserving_check_fails_while_no_version_is_available(
    model_server: RunningModelServer,
) -> None:
    assert run(tfserving_check(port_of(model_server.rest_url), UNPUBLISHED_MODEL)) != 0


def test_tfserving_check_fails_when_nothing_listens() -> None:
    assert run(tfserving_check(free_port())) != 0


def python_code(command: list[str]) -> str:
    """The code of a `python -c CODE` check (the images' Python is the venv's)."""
    program, flag, code = command
    assert (program, flag) == ("python", "-c")
    return code


def dockerfile_check(dockerfile: Path) -> str:
    """The code of the Dockerfile's `HEALTHCHECK CMD ["python", "-c", CODE]`."""
    (healthcheck,) = instructions(dockerfile, "HEALTHCHECK")
    return python_code(json.loads(healthcheck[healthcheck.index("CMD") + len("CMD") :].strip()))


def aimed_at(code: str, default_port: int, port: int) -> list[str]:
    """`code` run by this Python, asking `port` instead of `default_port`."""
    default_url = f"http://127.0.0.1:{default_port}/"
    assert default_url in code
    return [sys.executable, "-c", code.replace(default_url, f"http://127.0.0.1:{port}/")]


def gateway_checks(port: int) -> list[tuple[list[str], dict[str, str]]]:
    """The Dockerfile's and compose's gateway checks, as the venv's Python runs them."""
    image_check = (
        [sys.executable, "-c", dockerfile_check(GATEWAY_DOCKERFILE)],
        {"COVERTYPE_GATEWAY_PORT": str(port)},
    )
    compose_code = python_code(compose_check("gateway"))
    return [image_check, (aimed_at(compose_code, defaults.GATEWAY_PORT, port), {})]


def test_gateway_checks_pass_while_the_gateway_is_ready(gateway: RunningGateway) -> None:
    for command, env in gateway_checks(port_of(gateway.url)):
        assert run(command, env) == 0, command


def test_gateway_checks_fail_while_the_model_server_is_down() -> None:
    with start_gateway(f"127.0.0.1:{free_port()}") as lonely:
        for command, env in gateway_checks(port_of(lonely.url)):
            assert run(command, env) != 0, command


def console_checks(port: int) -> list[list[str]]:
    """The Dockerfile's and compose's console checks, as the venv's Python runs them."""
    return [
        aimed_at(dockerfile_check(CONSOLE_DOCKERFILE), CONSOLE_PORT, port),
        aimed_at(python_code(compose_check("console")), CONSOLE_PORT, port),
    ]


def test_console_checks_pass_while_the_console_serves(gateway: RunningGateway) -> None:
    with start_console(gateway.url) as console:
        for command in console_checks(port_of(console.url)):
            assert run(command) == 0, command


def test_console_checks_fail_when_nothing_listens() -> None:
    for command in console_checks(free_port()):
        assert run(command) != 0, command
