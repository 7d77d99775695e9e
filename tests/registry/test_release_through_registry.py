"""`covertype release | label | rollback --registry`: changes made in the registry only.

A real S3 server (rclone), a sync and a model server that polls the config the sync
writes, and a gateway: the commands never reach the server to change what it serves;
they write to the registry and watch the server converge.
"""

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from covertype.cli import main
from covertype.defaults import MODEL_NAME
from registry.events import VersionState
from registry.uri import open_registry
from release.serving import ModelServer
from release.through_registry import RegistryRecord
from tests.support.gateway import start_gateway
from tests.support.model_server import start_model_server
from tests.support.ports import free_port
from tests.support.s3 import RunningS3Server
from tests.support.sync import start_sync

pytestmark = pytest.mark.timeout(900)


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.2)


def available(target: str) -> list[int]:
    with ModelServer(target, MODEL_NAME) as server:
        return sorted(v for v, s in server.states().items() if s.state == "AVAILABLE")


def test_release_label_and_rollback_act_on_the_registry_and_the_server_converges(
    s3_registry: str,
    s3_server: RunningS3Server,
    tiny_candidate: Any,
    train_csv: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry = open_registry(s3_registry)
    registry.publish(tiny_candidate.path, MODEL_NAME)
    served = tmp_path / "served"
    with (
        start_sync(
            registry=s3_registry,
            models_dir=served,
            env=s3_server.environment(),
            extra_args=["--label-delay-seconds=2"],
        ) as sync,
    ):
        sync.wait_ready()
        with (
            start_model_server(
                model_config_file=served / "models.config",
                extra_args=[
                    "--file_system_poll_wait_seconds=1",
                    "--model_config_file_poll_wait_seconds=1",
                ],
            ) as server,
            start_gateway(server.grpc_target) as gateway,
        ):
            stack = ["--registry", s3_registry, "--tfserving", server.grpc_target]
            released = main(
                [
                    "release", *stack, "--gateway", gateway.url,
                    "--models-dir", str(tmp_path / "work"),
                    "--candidate", str(tiny_candidate.path), "--data", str(train_csv),
                    "--latency-requests", "20", "--max-latency-ratio", "10",
                    "--verify-timeout", "120", "--reason", "registry release",
                ]
            )  # fmt: skip
            report = capsys.readouterr().out
            assert released == 0, report
            assert f"history   : covertype versions --registry {s3_registry}" in report
            assert available(server.grpc_target) == [2]
            assert [v.state for v in registry.versions(MODEL_NAME)] == [VersionState.LIVE] * 2

            assert main(["label", "stable", "1", *stack, "--timeout", "60"]) == 0
            assert "label stable: unset -> 1" in capsys.readouterr().out
            wait_for(
                lambda: (
                    'key: "stable"' in (served / "models.config").read_text()
                    and "value: 1" in (served / "models.config").read_text()
                ),
                60,
                "the stable label on version 1 in the config the sync writes",
            )

            assert main(["rollback", *stack, "--reason", "bad canary", "--timeout", "90"]) == 0
            out = capsys.readouterr().out
            assert "retired version(s) [2]" in out and "live: version 1" in out, out
            assert available(server.grpc_target) == [1]
            states = {v.version: v.state for v in registry.versions(MODEL_NAME)}
            assert states == {1: VersionState.LIVE, 2: VersionState.RETIRED}

            assert main(["versions", "--registry", s3_registry]) == 0
            table = capsys.readouterr().out
            assert "retired" in table, table

    record = RegistryRecord(open_registry(s3_registry), MODEL_NAME).events()
    names = [e.event for e in record]
    for expected in ("gate", "published", "verified", "labelled", "archived"):
        assert expected in names, names
    gate = next(e for e in record if e.event == "gate")
    # the live version was fetched from the registry and measured beside the candidate
    assert gate.details["live_version"] == 1 and "live" in gate.details, gate.details


PROBE = """
import sys
from covertype.cli import main
code = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.split(".")[0].startswith("tensorflow"))
print("exit", code, "tensorflow modules", loaded)
"""


@pytest.mark.parametrize("command", [["rollback"], ["label", "stable", "1"]])
def test_registry_commands_import_no_tensorflow_and_name_the_unreachable_uri(
    command: list[str],
) -> None:
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "AWS_ACCESS_KEY_ID": "key",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    run = subprocess.run(
        [sys.executable, "-c", PROBE, *command, "--registry", "s3://nowhere/models"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert "exit 1 tensorflow modules []" in run.stdout, run.stdout + run.stderr
    assert "s3://nowhere/models" in run.stderr and "AWS_ENDPOINT_URL" in run.stderr, run.stderr
