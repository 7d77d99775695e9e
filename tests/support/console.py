"""Start the operator's console (`covertype console`) as a subprocess, and a whole stack
for it: a models folder with two versions, a model server, a gateway writing a
prediction log, and the console reading all of them.

    with console_stack(tmp_path, publish_tiny) as stack:
        httpx.get(stack.console.url + "/console/api/versions")
"""

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from covertype import defaults
from tests.support import free_port
from tests.support.gateway import RunningGateway, start_gateway
from tests.support.model_server import RunningModelServer, start_model_server
from tests.support.service import RunningService, wait_until_healthy

START_TIMEOUT_SECONDS = 30.0
LABELS = {"stable": 1, "canary": 2}


class RunningConsole(RunningService):
    """A console subprocess; a context manager that stops it on exit."""


def start_console(gateway_url: str, extra_args: Sequence[str] = ()) -> RunningConsole:
    """Start `covertype console --gateway URL` on a free port and wait for `/healthz`."""
    port = free_port()
    log_path = Path(tempfile.mkdtemp(prefix="covertype-console-")) / "console.log"
    command = [
        sys.executable, "-m", "covertype.cli", "console",
        "--host", defaults.HOST, "--port", str(port), "--gateway", gateway_url, *extra_args,
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=os.environ)
    console = RunningConsole(process, f"http://{defaults.HOST}:{port}", log_path)
    wait_until_healthy(console, "console", START_TIMEOUT_SECONDS)
    return console


@dataclass
class ConsoleStack:
    """Everything the console reads, running."""

    models_dir: Path
    prediction_log: Path
    server: RunningModelServer
    gateway: RunningGateway
    console: RunningConsole


def models_config(models_dir: Path, labels: dict[str, int]) -> str:
    """TF Serving's text-format ModelServerConfig: versions 1 and 2 of the model, labelled."""
    label_lines = "".join(f'version_labels {{ key: "{k}" value: {v} }} ' for k, v in labels.items())
    return (
        f'model_config_list {{ config {{ name: "{defaults.MODEL_NAME}" '
        f'base_path: "{models_dir / defaults.MODEL_NAME}" model_platform: "tensorflow" '
        f"model_version_policy {{ specific {{ versions: 1 versions: 2 }} }} {label_lines}}} }}\n"
    )


@contextmanager
def console_stack(root: Path, publish_tiny: Callable[..., list[int]]) -> Iterator[ConsoleStack]:
    """Two published versions (labels stable -> 1, canary -> 2) behind a model server, a
    gateway with a prediction log, and a console given the models folder as registry."""
    models_dir = root / "models"
    publish_tiny(models_dir, count=2)
    config = root / "models.config"
    config.write_text(models_config(models_dir, LABELS))
    prediction_log = root / "predictions.jsonl"
    with ExitStack() as stack:
        # As TF Serving, the server refuses labels on versions not yet loaded unless told.
        server = stack.enter_context(
            start_model_server(
                model_config_file=config,
                extra_args=["--allow_version_labels_for_unavailable_models"],
            )
        )
        gateway_args = ["--model-config-file", str(config), "--prediction-log", str(prediction_log)]
        gateway = stack.enter_context(start_gateway(server.grpc_target, extra_args=gateway_args))
        console = stack.enter_context(
            start_console(
                gateway.url,
                ["--registry", str(models_dir), "--prediction-log", str(prediction_log)],
            )
        )
        yield ConsoleStack(models_dir, prediction_log, server, gateway, console)
