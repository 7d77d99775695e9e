"""Commands print no TensorFlow native start-up noise unless `--verbose`; `versions` needs none."""

import os
import re
import subprocess
import sys
from pathlib import Path

# TensorFlow's native log lines (`I0000 00:00:... file.cc:31] ...`) and absl's warning.
NATIVE_LINE = re.compile(r"^([IWEF]\d{4} |WARNING: All log messages before absl)", re.MULTILINE)


def rollback_output(models_dir: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """A folder-mode rollback with nothing to roll back: it imports TensorFlow, then refuses."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CPP_", "COVERTYPE_"))}
    command = [sys.executable, "-m", "covertype.cli", *flags, "rollback"]
    command += ["--models-dir", str(models_dir), "--tfserving", "127.0.0.1:1"]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def test_tensorflow_native_lines_are_hidden_unless_verbose(tmp_path: Path) -> None:
    quiet = rollback_output(tmp_path)
    assert quiet.returncode == 1
    assert quiet.stderr.startswith("covertype rollback: there is no version"), quiet.stderr
    assert not NATIVE_LINE.search(quiet.stderr), quiet.stderr
    verbose = rollback_output(tmp_path, "--verbose")
    assert verbose.returncode == 1, verbose.stderr
    # TensorFlow's CPU build logs its CUDA probe and CPU features at import
    assert NATIVE_LINE.search(verbose.stderr), verbose.stderr


def test_versions_answers_without_importing_tensorflow(tmp_path: Path) -> None:
    probe = (
        "import sys; from covertype.cli import main; "
        f"code = main(['versions', '--models-dir', {str(tmp_path)!r}, "
        "'--tfserving', '127.0.0.1:1']); "
        "print('exit', code, sorted(m for m in sys.modules if m.split('.')[0] == 'tensorflow'))"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert run.stdout.startswith("VERSION"), run.stdout + run.stderr
    assert "exit 0 []" in run.stdout, run.stdout
