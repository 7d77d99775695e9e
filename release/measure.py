"""Measuring candidate and live side by side, in one process, on the same rows and requests.

Quality: accuracy and macro F1 of the `predict_matrix` signature on the evaluation
rows. Speed: p50 latency of one-row `serving_default` calls (what a Predict runs),
the models called alternately on the same requests, the one going first switching
every request, so that a noisy machine slows them alike.
"""

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from covertype.defaults import (
    DEFAULT_SIGNATURE,
    MATRIX_INPUT,
    MATRIX_SIGNATURE,
    OUTPUT_COVER_TYPE,
)
from covertype.schema import FEATURE_COLUMNS
from release.gate import Measurement

WARMUP_CALLS = 20
BATCH_ROWS = 4096


class MeasureError(Exception):
    """A model cannot be loaded or does not answer its signatures."""


class LoadedModel:
    """A SavedModel loaded with `tf.saved_model.load`, checked for both signatures."""

    def __init__(self, folder: Path) -> None:
        import tensorflow as tf

        try:
            self._model = tf.saved_model.load(str(folder))
        except Exception as error:  # TensorFlow raises many types for a broken SavedModel.
            raise MeasureError(f"cannot load the SavedModel in {folder}: {error}") from error
        missing = {DEFAULT_SIGNATURE, MATRIX_SIGNATURE} - set(self._model.signatures)
        if missing:
            raise MeasureError(f"{folder} lacks the signature(s) {sorted(missing)}")
        self.predict_one = self._model.signatures[DEFAULT_SIGNATURE]
        self._matrix = self._model.signatures[MATRIX_SIGNATURE]

    def quality(self, features: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
        """Accuracy and macro F1 on `features` (`[rows, 54]` float32) against `labels`."""
        from sklearn.metrics import accuracy_score, f1_score

        predicted = np.concatenate(
            [
                self._matrix(**{MATRIX_INPUT: features[start : start + BATCH_ROWS]})[
                    OUTPUT_COVER_TYPE
                ]
                .numpy()
                .reshape(-1)
                for start in range(0, len(features), BATCH_ROWS)
            ]
        )
        accuracy = float(accuracy_score(labels, predicted))
        macro_f1 = float(f1_score(labels, predicted, average="macro", labels=sorted(set(labels))))
        return accuracy, macro_f1


def measure(
    models: dict[str, LoadedModel],
    features: np.ndarray,
    labels: np.ndarray,
    *,
    latency_requests: int,
) -> dict[str, Measurement]:
    """Measure every model on the same rows and the same one-row requests."""
    import tensorflow as tf

    quality = {name: model.quality(features, labels) for name, model in models.items()}
    requests = [
        {name: tf.constant(features[i : i + 1, col]) for col, name in enumerate(FEATURE_COLUMNS)}
        for i in range(min(latency_requests, len(features)))
    ]
    latencies = _interleaved_latency(models, requests)
    return {
        name: Measurement(
            accuracy=quality[name][0],
            macro_f1=quality[name][1],
            latency_p50_ms=statistics.median(latencies[name]) * 1000,
            rows=len(labels),
            requests=len(requests),
        )
        for name in models
    }


def _interleaved_latency(
    models: dict[str, LoadedModel], requests: list[dict[str, Any]]
) -> dict[str, list[float]]:
    names = list(models)
    for name in names:
        for request in requests[:WARMUP_CALLS]:
            models[name].predict_one(**request)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for index, request in enumerate(requests):
        order = names if index % 2 == 0 else names[::-1]
        for name in order:
            function = models[name].predict_one
            start = time.perf_counter()
            function(**request)
            seconds[name].append(time.perf_counter() - start)
    return seconds
