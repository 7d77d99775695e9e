"""Stratified k-fold cross-validation: the protocol every model setting is chosen on.

Each fold's held-out rows are scored by a model fitted on the other folds, exactly as
`covertype train` fits the network on its 80% training part and scores it on the 20%
test part. Any other model (the tree baselines of `benchmarks/model_quality.py`) plugs
in as a `FitPredict` on the same folds and rows.
"""

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np
from sklearn.model_selection import StratifiedKFold

from trainer.evaluation import score
from trainer.model import Hyperparameters
from trainer.splits import Rows

FitPredict = Callable[[Rows, Rows], np.ndarray]
"""Fit on the first rows, return predicted cover types (1..7) for the second rows' features."""


@dataclass(frozen=True)
class FoldScore:
    """One held-out fold's figures."""

    accuracy: float
    macro_f1: float
    rows: int
    seconds: float


@dataclass(frozen=True)
class CrossValidation:
    """Per-fold scores of one model, and their mean and (sample) standard deviation."""

    folds: tuple[FoldScore, ...]

    def mean(self, metric: str) -> float:
        """Mean of `accuracy` or `macro_f1` over the folds."""
        return statistics.fmean(getattr(fold, metric) for fold in self.folds)

    def std(self, metric: str) -> float:
        """Sample standard deviation of `accuracy` or `macro_f1` over the folds."""
        values = [getattr(fold, metric) for fold in self.folds]
        return statistics.stdev(values) if len(values) > 1 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures, for the model card and reports."""
        return {
            metric: {
                "mean": self.mean(metric),
                "std": self.std(metric),
                "folds": [getattr(fold, metric) for fold in self.folds],
            }
            for metric in ("accuracy", "macro_f1")
        } | {"fold_rows": [fold.rows for fold in self.folds]}


def stratified_folds(labels: np.ndarray, count: int, seed: int) -> list[tuple[np.ndarray, ...]]:
    """`count` pairs of (training row numbers, held-out row numbers), class proportions kept."""
    splitter = StratifiedKFold(n_splits=count, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(labels)), labels))


def cross_validate(
    rows: Rows,
    fit_predict: FitPredict,
    folds: list[tuple[np.ndarray, ...]],
    on_fold: Callable[[int, FoldScore], None] | None = None,
) -> CrossValidation:
    """Score `fit_predict` on every fold; `on_fold(number, score)` after each (1-based)."""
    scores = []
    for number, (fit_rows, held_out) in enumerate(folds, start=1):
        started = time.perf_counter()
        fit = Rows(rows.features[fit_rows], rows.labels[fit_rows])
        test = Rows(rows.features[held_out], rows.labels[held_out])
        figures = score(test.labels, fit_predict(fit, test))
        fold = FoldScore(
            figures["accuracy"], figures["macro_f1"], test.rows, time.perf_counter() - started
        )
        scores.append(fold)
        if on_fold is not None:
            on_fold(number, fold)
    return CrossValidation(tuple(scores))


def network_fit_predict(
    epochs: int, seed: int, hyper: Hyperparameters, progress: TextIO | None = None
) -> FitPredict:
    """The trainer's network as a `FitPredict`, predicting through the exported function."""
    from trainer.export import ServingModule
    from trainer.training import train

    def fit_predict(fit: Rows, test: Rows) -> np.ndarray:
        run = train(fit, epochs, seed, hyper, progress=progress)
        return ServingModule(run.model).predict(test.features)

    return fit_predict
