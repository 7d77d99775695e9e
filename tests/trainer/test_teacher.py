"""The tree teacher and the synthetic rows it labels for the network."""

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest

from trainer.api import DEFAULT_HYPERPARAMETERS, load_validated_data
from trainer.splits import Rows
from trainer.teacher import TreeTeacher, synthetic_rows
from trainer.training import train


@pytest.fixture(scope="module")
def data(train_csv: Path) -> tuple[np.ndarray, np.ndarray]:
    validated = load_validated_data(train_csv)
    rows = np.random.default_rng(0).choice(validated.rows, 1500, replace=False)
    return validated.features[rows], validated.labels[rows]


def test_synthetic_rows_are_valid_rows_between_training_rows(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    features, _ = data
    rows = synthetic_rows(features, 3000, seed=0)
    assert rows.shape == (3000, 54) and rows.dtype == np.float32
    wilderness, soil = rows[:, 10:14], rows[:, 14:]
    assert set(np.unique(rows[:, 10:])) == {0.0, 1.0}
    assert (wilderness.sum(axis=1) == 1).all() and (soil.sum(axis=1) == 1).all()
    low, high = features[:, :10].min(axis=0), features[:, :10].max(axis=0)
    low[1], high[1] = 0, 360  # aspect may cross north, e.g. 359.5 between 359 and 0
    assert (rows[:, :10] >= low - 1e-3).all() and (rows[:, :10] < high + 1e-3).all()
    assert len(np.unique(rows[:, 0])) > 2000, "new values, not copies of training rows"
    np.testing.assert_array_equal(rows, synthetic_rows(features, 3000, seed=0))


def test_aspect_is_interpolated_along_the_shorter_arc() -> None:
    rows = np.zeros((6, 54), dtype=np.float32)
    rows[:, 0] = 3000 + np.arange(6)  # elevation: the six rows are each other's neighbours
    rows[:, 1] = [350, 10, 350, 10, 350, 10]  # aspect, in degrees
    rows[:, 10], rows[:, 14] = 1, 1
    aspects = synthetic_rows(rows, 500, seed=0)[:, 1]
    assert ((aspects >= 350) | (aspects <= 10)).all()
    assert ((aspects > 355) | (aspects < 5)).any()


def test_the_teacher_answers_for_new_rows(data: tuple[np.ndarray, np.ndarray]) -> None:
    features, labels = data
    teacher = TreeTeacher(features[:1000], labels[:1000], trees=50, seed=0)
    probabilities = teacher.probabilities(features[1000:])
    assert probabilities.shape == (500, 7)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert np.mean(probabilities.argmax(axis=1) + 1 == labels[1000:]) > 0.6


def test_training_adds_the_teacher_labelled_rows(data: tuple[np.ndarray, np.ndarray]) -> None:
    features, labels = data
    hyper = dataclasses.replace(
        DEFAULT_HYPERPARAMETERS, hidden_units=(16, 8), synthetic_rows=0.5, teacher_trees=10
    )
    progress = io.StringIO()
    run = train(Rows(features[:400], labels[:400]), 1, 0, hyper, progress=progress)
    assert "teacher: ExtraTrees (10 trees) labelled 200 synthetic rows in " in progress.getvalue()
    assert run.model.predict(features[400:410], verbose=0).shape == (10, 7)
