"""The cross-validation protocol: folds, what each model sees, and the figures it reports."""

import statistics
from collections import Counter

import numpy as np
import pytest

from trainer.cross_validation import CrossValidation, FoldScore, cross_validate, stratified_folds
from trainer.splits import Rows

LABELS = np.repeat(np.arange(1, 8), [30, 30, 20, 10, 10, 10, 10])


def numbered_rows() -> Rows:
    """Row numbers as the single feature, so a FitPredict can tell which rows it was given."""
    return Rows(np.arange(len(LABELS), dtype=np.float32).reshape(-1, 1), LABELS)


def test_every_row_is_held_out_exactly_once_with_the_class_proportions() -> None:
    folds = stratified_folds(LABELS, 5, seed=0)
    held_out = np.concatenate([test for _, test in folds])
    assert sorted(held_out.tolist()) == list(range(len(LABELS)))
    for fit, test in folds:
        assert not set(fit) & set(test)
        assert len(fit) + len(test) == len(LABELS)
        assert Counter(LABELS[test].tolist()) == {1: 6, 2: 6, 3: 4, 4: 2, 5: 2, 6: 2, 7: 2}


def test_folds_depend_on_the_seed_only() -> None:
    def held_out(seed: int) -> list[list[int]]:
        return [test.tolist() for _, test in stratified_folds(LABELS, 5, seed)]

    assert held_out(0) == held_out(0)
    assert held_out(0) != held_out(1)


def test_each_fold_is_fitted_without_its_rows_and_scored_on_them() -> None:
    rows = numbered_rows()
    folds = stratified_folds(LABELS, 4, seed=0)
    seen: list[tuple[set[int], set[int]]] = []

    def majority_of_fit_rows(fit: Rows, test: Rows) -> np.ndarray:
        seen.append((set(fit.features[:, 0].astype(int)), set(test.features[:, 0].astype(int))))
        majority = Counter(fit.labels.tolist()).most_common(1)[0][0]
        return np.full(test.rows, majority)

    reported: list[int] = []
    result = cross_validate(rows, majority_of_fit_rows, folds, lambda n, _: reported.append(n))

    assert reported == [1, 2, 3, 4]
    for (fit, test), (fit_seen, test_seen) in zip(folds, seen, strict=True):
        assert fit_seen == set(fit.tolist()) and test_seen == set(test.tolist())
    # classes 1 and 2 tie for the majority; the first counted of the fit rows wins
    expected = [
        float(np.mean(LABELS[test] == Counter(LABELS[fit].tolist()).most_common(1)[0][0]))
        for fit, test in folds
    ]
    assert [fold.accuracy for fold in result.folds] == pytest.approx(expected)
    assert [fold.rows for fold in result.folds] == [len(test) for _, test in folds]
    assert all(0 < fold.macro_f1 < fold.accuracy for fold in result.folds)


def test_mean_and_sample_standard_deviation() -> None:
    result = CrossValidation(
        tuple(FoldScore(a, f, 10, 1.0) for a, f in [(0.8, 0.7), (0.9, 0.8), (0.7, 0.9)])
    )
    assert result.mean("accuracy") == pytest.approx(0.8)
    assert result.std("accuracy") == pytest.approx(statistics.stdev([0.8, 0.9, 0.7]))
    assert result.as_dict() == {
        "accuracy": {"mean": result.mean("accuracy"), "std": result.std("accuracy"),
                     "folds": [0.8, 0.9, 0.7]},
        "macro_f1": {"mean": result.mean("macro_f1"), "std": result.std("macro_f1"),
                     "folds": [0.7, 0.8, 0.9]},
        "fold_rows": [10, 10, 10],
    }  # fmt: skip
