"""benchmarks/graph_latency.py runs two real exported versions side by side."""

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.parametrize("signature", ["predict_matrix", "serving_default"])
def test_it_prints_every_round_and_the_median_ratio(
    tiny_candidate: Any, tmp_path: Path, signature: str
) -> None:
    path = str(tiny_candidate.path)
    result = subprocess.run(
        [
            sys.executable, "-P", str(REPO_ROOT / "benchmarks" / "graph_latency.py"),
            "--saved-model", path, "--baseline", path, "--signature", signature,
            "--rounds", "3", "--calls", "5",
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert re.search(r"^new: \d+ graph operations$", result.stdout, re.MULTILINE)
    rounds = re.findall(r"^\s+(\d)\s+\d+\s+\d+\s+[\d.]+$", result.stdout, re.MULTILINE)
    assert rounds == ["1", "2", "3"]
    assert re.search(rf"^{signature}: one-row Session run, median new/old over 3 rounds [\d.]+ ",
                     result.stdout, re.MULTILINE)  # fmt: skip
