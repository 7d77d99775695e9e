"""The registry's commands: no TensorFlow imported, plain answers, errors that say what to do."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from covertype.defaults import MODEL_NAME
from registry.uri import open_registry
from tests.support.s3 import RunningS3Server

HEAVY = {"tensorflow", "keras", "tensorflow_serving", "tf_keras"}

NO_TENSORFLOW = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from covertype.cli import main
    from registry.sync import Sync, SyncOptions
    from registry.sync_metrics import SyncMetrics
    from registry.uri import open_registry

    assert main(["versions", "--registry", sys.argv[1]]) == 0
    assert main(["data", "push", sys.argv[2], "--registry", sys.argv[1]]) == 0
    served = Path(sys.argv[3])
    options = SyncOptions(served, "covertype", served / "models.config", label_delay_seconds=0)
    assert Sync(open_registry(sys.argv[1]), options, SyncMetrics()).sync_once().served == (1,)
    heavy = sorted(name for name in sys.modules if name.split(".")[0] in HEAVY)
    print("HEAVY:", heavy)
    """
)


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=120, env=env
    )


def test_registry_commands_import_no_tensorflow(
    s3_registry: str, tiny_candidate: Any, train_csv: Path, tmp_path: Path
) -> None:
    open_registry(s3_registry).publish(tiny_candidate.path, MODEL_NAME)
    script = f"HEAVY = {HEAVY!r}\n{NO_TENSORFLOW}"
    result = run("-c", script, s3_registry, str(train_csv), str(tmp_path / "served"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "HEAVY: []" in result.stdout
    assert "oneDNN" not in result.stderr and "cuda" not in result.stderr.lower()
    assert f"{s3_registry}: covertype, 1 committed version(s)" in result.stdout
    assert f"{s3_registry}/data/sha256/" in result.stdout


def test_versions_lists_state_labels_and_card(s3_registry: str, tiny_candidate: Any) -> None:
    registry = open_registry(s3_registry)
    registry.publish(tiny_candidate.path, MODEL_NAME)
    registry.publish(tiny_candidate.path, MODEL_NAME)
    registry.set_label(MODEL_NAME, "stable", 1)
    registry.retire(MODEL_NAME, 2)
    result = run("-m", "covertype.cli", "versions", "--registry", s3_registry)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    accuracy = f"{tiny_candidate.metrics['accuracy']:.4f}"
    assert any(line.split()[:3] == ["1", "live", "stable"] and accuracy in line for line in lines)
    assert any(line.split()[:3] == ["2", "retired", "-"] for line in lines)


def test_a_bad_registry_gets_a_message_and_exit_code_not_a_traceback(
    s3_server: RunningS3Server, tmp_path: Path
) -> None:
    result = run("-m", "covertype.cli", "versions", "--registry", "s3://absent-bucket")
    assert result.returncode == 1
    assert "s3://absent-bucket: bucket 'absent-bucket' does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    result = run(
        "-m", "covertype.cli", "data", "push", str(tmp_path / "nope.csv"), "--registry", "x"
    )
    assert result.returncode == 2
    assert "nope.csv: no such file" in result.stderr


def test_train_reads_registry_data_and_publishes_into_the_registry(
    s3_registry: str, train_csv: Path, tmp_path: Path
) -> None:
    from registry.data import push_data

    data_uri = push_data(train_csv, s3_registry)
    result = run(
        "-m",
        "covertype.cli",
        "train",
        "--data",
        data_uri,
        "--registry",
        s3_registry,
        "--epochs",
        "1",
        "--sample",
        "1500",
        "--quiet",
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    assert result.returncode == 0, result.stderr
    [info] = open_registry(s3_registry).versions(MODEL_NAME)
    assert info.card.data_uri == data_uri
    assert info.card.data_fingerprint and info.card.data_fingerprint in result.stdout
