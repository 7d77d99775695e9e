"""The tree teacher's out-of-bag probabilities (soft targets for distillation)."""

from pathlib import Path

import numpy as np
import pytest

from trainer.api import load_validated_data
from trainer.teacher import out_of_bag_probabilities


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
