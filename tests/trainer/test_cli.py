"""`covertype train` end to end: publish, quiet/progress output, exit codes, determinism."""

import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf

from covertype.cli import main
from covertype.defaults import (
    ASSETS_EXTRA,
    DATA_ENV,
    MATRIX_INPUT,
    MATRIX_SIGNATURE,
    METRICS_FILE,
    MODEL_NAME,
    OUTPUT_PROBABILITIES,
)
from tests.conftest import REPO_ROOT
from tests.trainer.files import read_rows, write_kaggle
from trainer.api import load_validated_data
from trainer.publish import existing_versions

TINY = ("--sample", "2000", "--epochs", "1", "--seed", "0")


def covertype(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the `covertype` command in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "covertype.cli", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def weights(saved_model: Path) -> list[tuple[tuple[int, ...], bytes]]:
    """Every saved variable as (shape, bytes), sorted: the checkpoint's key order may vary."""
    reader = tf.train.load_checkpoint(str(saved_model / "variables" / "variables"))
    names = [n for n in reader.get_variable_to_shape_map() if n.endswith("VARIABLE_VALUE")]
    values = [reader.get_tensor(name) for name in names]
    return sorted((value.shape, value.tobytes()) for value in values)


def predictions(saved_model: Path, rows: np.ndarray) -> np.ndarray:
    signature = tf.saved_model.load(str(saved_model)).signatures[MATRIX_SIGNATURE]
    return signature(**{MATRIX_INPUT: tf.constant(rows)})[OUTPUT_PROBABILITIES].numpy()


@pytest.fixture(scope="module")
def published(train_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    models_dir = tmp_path_factory.mktemp("models")
    args = ("train", "--data", str(train_csv), "--models-dir", str(models_dir), "--quiet")
    return models_dir, covertype(*args, *TINY)


def test_train_publishes_version_one_and_says_what(published: tuple[Path, Any]) -> None:
    models_dir, result = published
    assert result.returncode == 0, result.stderr
    version = models_dir / MODEL_NAME / "1"
    assert existing_versions(models_dir / MODEL_NAME) == [1]
    out = result.stdout
    assert f"Published covertype version 1 at {version}" in out
    assert "test accuracy 0." in out and "macro F1 0." in out
    assert "rows used 2,000 of 12,096" in out
    assert f"model card {version}/assets.extra/metrics.json" in out
    assert out.startswith("Published"), "--quiet prints the summary only"


def test_same_seed_in_another_process_gives_the_same_model(
    published: tuple[Path, Any], tiny_candidate: Any, train_csv: Path
) -> None:
    """The CLI run and the session's tiny candidate used the same data, options and seed."""
    models_dir, _ = published
    ours, theirs = models_dir / MODEL_NAME / "1", tiny_candidate.path
    assert len(weights(ours)) > 10
    assert weights(ours) == weights(theirs)
    rows = load_validated_data(train_csv).features[:500]
    np.testing.assert_array_equal(predictions(ours, rows), predictions(theirs, rows))


def test_invalid_data_exits_2_and_publishes_nothing(train_csv: Path, tmp_path: Path) -> None:
    frame = read_rows(train_csv, 50)
    frame.loc[4, "Slope"] = 120
    frame.loc[9, "Cover_Type"] = 9
    bad = write_kaggle(frame, tmp_path / "bad.csv")
    models_dir = tmp_path / "models"
    result = covertype("train", "--data", str(bad), "--models-dir", str(models_dir), *TINY)
    assert result.returncode == 2
    assert "line 6, column Slope: value 120 must be between 0 and 90" in result.stderr
    assert "line 11, column Cover_Type: label 9 must be an integer from 1 to 7" in result.stderr
    assert "Nothing was published." in result.stderr
    assert not models_dir.exists() or existing_versions(models_dir / MODEL_NAME) == []


def test_missing_data_exits_1_with_the_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(DATA_ENV, raising=False)
    code = main(["train", "--data", str(tmp_path / "nowhere.csv"), "--models-dir", str(tmp_path)])
    assert code == 1
    err = capsys.readouterr().err
    assert "nowhere.csv (from --data)" in err
    assert DATA_ENV in err and "fetch_covtype" in err


def test_progress_shows_epochs_loss_and_accuracy(
    train_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", "--data", str(train_csv), "--models-dir", str(tmp_path), "--sample", "1000"]
    assert main([*args, "--epochs", "2", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "epoch 1/2  loss " in out and "epoch 2/2  loss " in out and "  accuracy " in out
    assert "Training (2 epochs, seed 3): train 800, test 200" in out
    assert "Published covertype version 1" in out


def test_cv_records_the_cross_validated_figures_beside_the_test_split(
    train_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", "--data", str(train_csv), "--models-dir", str(tmp_path), "--cv", "2"]
    assert main([*args, "--sample", "700", "--epochs", "1", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert "Cross-validating the network on 2 stratified folds of 700 rows" in out
    assert "fold 1/2: accuracy " in out and "fold 2/2: accuracy " in out
    card = json.loads((tmp_path / MODEL_NAME / "1" / ASSETS_EXTRA / METRICS_FILE).read_text())
    cv = card["cross_validation"]
    assert cv["folds"] == 2 and cv["fold_rows"] == [350, 350]
    for metric in ("accuracy", "macro_f1"):
        folds = cv[metric]["folds"]
        assert len(folds) == 2 and all(0 < value <= 1 for value in folds)
        assert cv[metric]["mean"] == pytest.approx(statistics.fmean(folds))
        assert cv[metric]["std"] == pytest.approx(statistics.stdev(folds))
    assert "stratified 2-fold cross-validation over the 700 rows used (seed 0)" in cv["protocol"]
    summary = f"cross-validated accuracy {cv['accuracy']['mean']:.4f} +- "
    assert summary in out and "(2 folds)" in out
    assert f"test accuracy {card['accuracy']:.4f}" in out


def test_different_seed_gives_different_weights(
    train_csv: Path, tmp_path: Path, tiny_candidate: Any
) -> None:
    args = ["train", "--data", str(train_csv), "--models-dir", str(tmp_path), "--quiet"]
    assert main([*args, "--sample", "2000", "--epochs", "1", "--seed", "1"]) == 0
    assert weights(tmp_path / MODEL_NAME / "1") != weights(tiny_candidate.path)


@pytest.mark.parametrize("flag", ["--sample", "--epochs"])
def test_non_positive_counts_are_usage_errors(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["train", flag, "0"])
    assert caught.value.code == 2
    assert "must be a positive integer" in capsys.readouterr().err


def test_an_explicit_compute_dtype_is_what_the_card_records(
    train_csv: Path, tmp_path: Path
) -> None:
    args = ["train", "--data", str(train_csv), "--models-dir", str(tmp_path), "--quiet"]
    assert main([*args, *TINY, "--compute-dtype", "float32"]) == 0
    card = json.loads((tmp_path / MODEL_NAME / "1" / ASSETS_EXTRA / METRICS_FILE).read_text())
    assert card["compute_dtype"] == "float32"
    assert card["parameters"]["compute_dtype"] == "float32"


def test_an_unknown_compute_dtype_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["train", "--compute-dtype", "float16"])
    assert caught.value.code == 2
    assert "--compute-dtype: invalid choice: 'float16'" in capsys.readouterr().err


def test_one_fold_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["train", "--cv", "1"])
    assert caught.value.code == 2
    assert "--cv: must be an integer of at least 2, got 1" in capsys.readouterr().err


def test_too_few_rows_to_split_is_invalid_data(
    train_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = write_kaggle(read_rows(train_csv, 4), tmp_path / "small.csv")  # 1-row test part
    code = main(["train", "--data", str(small), "--models-dir", str(tmp_path / "models")])
    assert code == 2
    assert "too few rows for a stratified train/test split" in capsys.readouterr().err
    assert not (tmp_path / "models").exists()
