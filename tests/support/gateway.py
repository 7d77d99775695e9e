"""Start the real gateway (`covertype gateway`) as a subprocess on a free loopback port.

    with start_gateway(server.grpc_target) as gateway:
        httpx.get(gateway.url + "/readyz")

Waits until `/healthz` answers (not `/readyz`: tests also start it with no model
server). Its JSON log (stderr and stdout) is kept in a file, read by `log()`.
"""

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from covertype import defaults
from tests.support import free_port
from tests.support.service import (
    RunningService,
    ServiceStartError,
    wait_until_healthy,
)

START_TIMEOUT_SECONDS = 30.0


class GatewayStartError(ServiceStartError):
    """The gateway exited or did not answer in time; the message carries its log."""


class RunningGateway(RunningService):
    """A gateway subprocess; a context manager that stops it on exit."""

    def access_log(self) -> list[dict[str, Any]]:
        """The access log entries written so far, oldest first."""
        entries = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                entry = json.loads(line)
                if entry.get("logger") == "covertype.gateway.access":
                    entries.append(entry)
        return entries


def start_gateway(
    tfserving_target: str,
    *,
    model_name: str = defaults.MODEL_NAME,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = START_TIMEOUT_SECONDS,
    new_session: bool = False,
) -> RunningGateway:
    """Start `covertype gateway --tfserving <target>` on a free port and wait for `/healthz`.

    `new_session`: in a process group of its own (its pid is the group's id), to be
    signalled as a whole the way Ctrl-C or systemd signal a service.
    """
    port = free_port()
    log_path = Path(tempfile.mkdtemp(prefix="covertype-gateway-")) / "gateway.log"
    command = [
        sys.executable, "-m", "covertype.cli", "gateway",
        "--host", defaults.HOST, "--port", str(port),
        "--tfserving", tfserving_target, "--model-name", model_name,
        *extra_args,
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=new_session,
        )
    gateway = RunningGateway(process, f"http://{defaults.HOST}:{port}", log_path)
    wait_until_healthy(gateway, "gateway", timeout, GatewayStartError)
    return gateway
