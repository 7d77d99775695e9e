"""benchmarks/idle_wakeup.py runs a real exported version after each gap of rest."""

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import REPO_ROOT


def test_it_prints_every_round_and_every_gap(tiny_candidate: Any, tmp_path: Path) -> None:
    version = tmp_path / "1"
    version.symlink_to(tiny_candidate.path, target_is_directory=True)
    result = subprocess.run(
        [
            sys.executable, "-P", str(REPO_ROOT / "benchmarks" / "idle_wakeup.py"),
            "--saved-model", str(version), "--rounds", "2", "--calls", "3",
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rounds = re.findall(r"^\s+(\d)(?:\s+\d+){4}$", result.stdout, re.MULTILINE)
    assert rounds == ["1", "2"]
    gaps = re.findall(
        r"^after ([\d.]+) ms asleep: median \d+ us per one-row run, [\d.]+x back to back$",
        result.stdout,
        re.MULTILINE,
    )
    assert gaps == ["0.0", "0.3", "1.0", "3.0"]
