"""Data discovery order: --data, COVERTYPE_DATA, data/train.csv, then fetch_covtype."""

import os
from pathlib import Path

import joblib
import numpy as np
import pytest

from covertype.defaults import DATA_ENV
from tests.trainer.files import read_rows, write_kaggle
from trainer.data import DataNotFoundError, Layout, load_table, locate_data
from trainer.validation import validate

OPTIONS = ("--data PATH", DATA_ENV, "data/train.csv", "fetch_covtype")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory and no COVERTYPE_DATA."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DATA_ENV, raising=False)
    return tmp_path


@pytest.fixture
def three_files(train_csv: Path, workdir: Path) -> dict[str, Path]:
    """Distinct valid files for --data, COVERTYPE_DATA and data/train.csv."""
    frame = read_rows(train_csv, 30)
    (workdir / "data").mkdir()
    return {
        "explicit": write_kaggle(frame.iloc[:10], workdir / "explicit.csv"),
        "env": write_kaggle(frame.iloc[10:20], workdir / "env.csv"),
        "default": write_kaggle(frame.iloc[20:], workdir / "data" / "train.csv"),
    }


def test_explicit_path_beats_environment_and_data_folder(
    three_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_ENV, str(three_files["env"]))
    location = locate_data(three_files["explicit"])
    assert (location.origin, location.path) == ("--data", three_files["explicit"])


def test_environment_beats_data_folder(
    three_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_ENV, str(three_files["env"]))
    location = locate_data(None)
    assert (location.origin, location.path) == (DATA_ENV, three_files["env"])


def test_data_folder_when_nothing_is_given(three_files: dict[str, Path]) -> None:
    location = locate_data(None)
    assert location.path == three_files["default"]
    assert validate(load_table(location)).rows == 10


def test_fetch_covtype_is_last(workdir: Path) -> None:
    location = locate_data(None)
    assert (location.origin, location.path) == ("fetch_covtype", None)


def test_a_named_file_that_is_missing_is_an_error_not_a_fallback(
    three_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, workdir: Path
) -> None:
    with pytest.raises(DataNotFoundError) as caught:
        locate_data(workdir / "nope.csv")
    assert "nope.csv (from --data)" in str(caught.value)
    monkeypatch.setenv(DATA_ENV, str(workdir / "gone.csv"))
    with pytest.raises(DataNotFoundError) as caught:
        locate_data(None)
    message = str(caught.value)
    assert f"gone.csv (from {DATA_ENV})" in message
    assert all(option in message for option in OPTIONS)


def test_one_clear_message_when_nothing_works(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cache folder that cannot be created makes fetch_covtype fail without any network.
    blocker = workdir / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(blocker / "cache"))
    with pytest.raises(DataNotFoundError) as caught:
        load_table(locate_data(None))
    message = str(caught.value)
    assert "fetch_covtype failed" in message
    assert all(option in message for option in OPTIONS)
    assert "data/README.md" in message


def test_fetch_covtype_reads_a_populated_cache(
    train_csv: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The download path, fed from scikit-learn's cache so that no network is needed.

    The cache file names are scikit-learn's (`covertype/samples_py3`, `targets_py3`);
    what is tested is our reading of what fetch_covtype returns.
    """
    from sklearn.datasets._base import _pkl_filepath

    frame = read_rows(train_csv, 50)
    features = frame.drop(columns=["Id", "Cover_Type"]).to_numpy(dtype=np.float64)
    labels = frame["Cover_Type"].to_numpy(dtype=np.int32)
    cache = workdir / "sklearn-cache"
    (cache / "covertype").mkdir(parents=True)
    joblib.dump(features, _pkl_filepath(os.fspath(cache / "covertype"), "samples"))
    joblib.dump(labels, _pkl_filepath(os.fspath(cache / "covertype"), "targets"))
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(cache))

    data = validate(load_table(locate_data(None)))
    assert data.layout == Layout.UCI
    assert data.location.origin == "fetch_covtype"
    np.testing.assert_array_equal(data.features, features.astype(np.float32))
    np.testing.assert_array_equal(data.labels, labels)
