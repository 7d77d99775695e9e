"""benchmarks/model_quality.py runs the protocol end to end (on a small sample, tiny models)."""

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT


def test_network_and_trees_are_scored_on_the_same_folds(train_csv: Path, tmp_path: Path) -> None:
    report = tmp_path / "quality.json"
    result = subprocess.run(
        [
            sys.executable, "-P", str(REPO_ROOT / "benchmarks" / "model_quality.py"),
            "--data", str(train_csv), "--sample", "700", "--folds", "2", "--trees", "10",
            "--epochs", "1", "--set", "hidden_units=16,8", "--set", "members=2",
            "--output", str(report),
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr

    figures = json.loads(report.read_text())
    assert (figures["rows"], figures["folds"], figures["trees"]) == (700, 2, 10)
    assert figures["hyperparameters"]["hidden_units"] == [16, 8]
    assert figures["hyperparameters"]["members"] == 2
    assert figures["data_fingerprint"].startswith("sha256:")
    results = figures["results"]
    assert list(results) == ["network", "extra_trees", "random_forest"]
    for name, scores in results.items():
        assert scores["fold_rows"] == [350, 350], name
        assert len(scores["accuracy"]["folds"]) == 2
        assert 0 < scores["macro_f1"]["mean"] <= 1
        mean = scores["accuracy"]["mean"]
        assert f"{name:<14} {mean:>15.4f} +- {scores['accuracy']['std']:.4f}" in result.stdout
    assert "network        fold 2/2: accuracy " in result.stdout
