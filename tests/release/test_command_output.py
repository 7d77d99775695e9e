"""Commands that need TensorFlow print no native start-up noise unless `--verbose`."""

import os
import re
import subprocess
import sys
from pathlib import Path

# TensorFlow's native log lines (`I0000 00:00:... file.cc:31] ...`) and absl's warning.
NATIVE_LINE = re.compile(r"^([IWEF]\d{4} |WARNING: All log messages before absl)", re.MULTILINE)


def versions_output(models_dir: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CPP_", "COVERTYPE_"))}
    command = [sys.executable, "-m", "covertype.cli", *flags, "versions"]
    command += ["--models-dir", str(models_dir), "--tfserving", "127.0.0.1:1"]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def test_versions_hides_tensorflow_native_lines_unless_verbose(tmp_path: Path) -> None:
    quiet = versions_output(tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.startswith("VERSION"), quiet.stdout
    assert not NATIVE_LINE.search(quiet.stderr), quiet.stderr
    verbose = versions_output(tmp_path, "--verbose")
    assert verbose.returncode == 0, verbose.stderr
    # TensorFlow's CPU build logs its CUDA probe and CPU features at import
    assert NATIVE_LINE.search(verbose.stderr), verbose.stderr
