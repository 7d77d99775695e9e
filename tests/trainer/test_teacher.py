"""The tree teacher's out-of-bag probabilities (soft targets for distillation)."""

from pathlib import Path

import numpy as np
import pytest

from trainer.api import load_validated_data
from trainer.teacher import TreeTeacher, out_of_bag_probabilities, synthetic_rows


@pytest.fixture(scope="module")
def data(train_csv: Path) -> tuple[np.ndarray, np.ndarray]:
    validated = load_validated_data(train_csv)
    rows = np.random.default_rng(0).choice(validated.rows, 1500, replace=False)
    return validated.features[rows], validated.labels[rows]


def test_rows_get_probabilities_of_the_seven_cover_types(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    features, labels = data
    probabilities = out_of_bag_probabilities(features, labels, trees=60, seed=0)
    assert probabilities.shape == (1500, 7) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    accuracy = np.mean(probabilities.argmax(axis=1) + 1 == labels)
    assert 0.6 < accuracy < 0.98, "out of bag: right mostly, not a copy of the labels"
    assert np.mean(probabilities.max(axis=1) < 1.0) > 0.5, "most rows get soft targets"


def test_a_row_no_tree_left_out_keeps_its_label(data: tuple[np.ndarray, np.ndarray]) -> None:
    features, labels = data
    probabilities = out_of_bag_probabilities(features, labels, trees=1, seed=0)
    one_hot = np.eye(7)[labels - 1]
    kept = (probabilities == one_hot).all(axis=1)
    assert 0.4 < kept.mean() < 0.9  # the rows in the one tree's bootstrap sample, and luck
    assert np.isfinite(probabilities).all()


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
