"""`covertype demo` (what `make demo` runs) end to end: train, serve, answer, stop; and
`covertype demo --registry s3` (what `make demo-registry` runs): the same through a local
S3 server and a sync."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support import free_port


def demo_command(train_csv: Path, models_dir: Path, *extra_args: str) -> list[str]:
    """A short `covertype demo` run (small sample, one epoch, one second of serving) with
    every port free."""
    return [
        sys.executable,
        "-m",
        "covertype.cli",
        "demo",
        f"--data={train_csv}",
        f"--models-dir={models_dir}",
        "--sample=3000",
        "--epochs=1",
        f"--grpc-port={free_port()}",
        f"--rest-port={free_port()}",
        f"--gateway-port={free_port()}",
        f"--console-port={free_port()}",
        f"--prediction-log={models_dir.parent / 'predictions.jsonl'}",
        "--serve-seconds=1",
        *extra_args,
    ]


def test_demo_trains_serves_and_answers_through_both_interfaces(
    train_csv: Path, tmp_path: Path
) -> None:
    models_dir = tmp_path / "models"
    command = demo_command(train_csv, models_dir)
    result = subprocess.run(command, capture_output=True, text=True, timeout=480)

    assert result.returncode == 0, result.stdout + result.stderr
    assert (models_dir / "covertype" / "1" / "saved_model.pb").is_file()
    assert '"model_version": 1' in result.stdout
    assert "PredictionService/Predict" in result.stdout
    assert "model_spec: name=covertype version=1" in result.stdout
    assert "using a stratified sample of 3,000 rows" in result.stdout
    assert "/console (versions, traffic, drift, history, try it)" in result.stdout
    assert (tmp_path / "predictions.jsonl").stat().st_size > 0  # the REST answer, logged


def test_demo_in_registry_mode_serves_version_1_from_a_local_s3_registry(
    train_csv: Path, tmp_path: Path
) -> None:
    models_dir = tmp_path / "models"
    command = demo_command(
        train_csv,
        models_dir,
        "--registry=s3",
        f"--s3-port={free_port()}",
        f"--sync-metrics-port={free_port()}",
    )
    # A session of its own: afterwards, any process still in it is one the demo left behind.
    demo = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")},
        start_new_session=True,
    )
    stdout, stderr = demo.communicate(timeout=480)

    assert demo.returncode == 0, stdout + stderr
    assert '"model_version": 1' in stdout
    assert "model_spec: name=covertype version=1" in stdout
    assert "export AWS_ACCESS_KEY_ID=" in stdout
    assert "covertype rollback --registry s3://covertype/registry" in stdout
    manifest = models_dir / "s3/covertype/registry/covertype.registry/versions/1.json"
    assert json.loads(manifest.read_text())["version"] == 1
    assert (models_dir / "served" / "covertype" / "1" / "saved_model.pb").is_file()
    assert processes_in_session(demo.pid) == [], stderr


def processes_in_session(session_id: int) -> list[str]:
    """The command lines of live processes in a session (from /proc)."""
    left = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        # After the command name: state, ppid, pgrp, session.
        if int(fields[3]) == session_id and fields[0] != "Z":
            left.append(cmdline)
    return left
