"""Measuring candidate and live side by side, in one process, on the same rows and requests.

Quality: accuracy and macro F1 of the `predict_matrix` signature on the evaluation
rows. Speed: p50 latency of one-row `serving_default` calls (what a Predict runs),
the two models called alternately on the same requests, the one going first
switching every request, so that a noisy machine slows both alike.
"""

import statistics
import time
from collections.abc import Callable
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
from trainer.release.gate import Measurement

WARMUP_CALLS = 20
BATCH_ROWS = 4096


class MeasureError(Exception):
    """A model cannot be loaded or does not answer its signatures."""


def measure_side_by_side(
    candidate_dir: Path,
    live_dir: Path | None,
    features: np.ndarray,
    labels: np.ndarray,
    *,
    latency_requests: int,
) -> tuple[Measurement, Measurement | None]:
    """Measure the candidate, and the live version when there is one, on the same data.

    `features` is `[rows, 54]` float32 in canonical column order, `labels` 1..7.
    """
    import tensorflow as tf

    models = {"candidate": _load(candidate_dir)}
    if live_dir is not None:
        models["live"] = _load(live_dir)
    quality = {name: _quality(model, features, labels) for name, model in models.items()}
    requests = [
        {name: tf.constant(features[i : i + 1, col]) for col, name in enumerate(FEATURE_COLUMNS)}
        for i in range(min(latency_requests, len(features)))
    ]
    latencies = _interleaved_latency(
        {name: model.signatures[DEFAULT_SIGNATURE] for name, model in models.items()}, requests
    )
    measured = {
        name: Measurement(
            accuracy=quality[name][0],
            macro_f1=quality[name][1],
            latency_p50_ms=statistics.median(latencies[name]) * 1000,
            rows=len(labels),
            requests=len(requests),
        )
        for name in models
    }
    return measured["candidate"], measured.get("live")


def _load(folder: Path) -> Any:
    import tensorflow as tf

    try:
        model = tf.saved_model.load(str(folder))
    except Exception as error:  # TensorFlow raises many types for a broken SavedModel.
        raise MeasureError(f"cannot load the SavedModel in {folder}: {error}") from error
    missing = {DEFAULT_SIGNATURE, MATRIX_SIGNATURE} - set(model.signatures)
    if missing:
        raise MeasureError(f"{folder} lacks the signature(s) {sorted(missing)}")
    return model


def _quality(model: Any, features: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import accuracy_score, f1_score

    matrix = model.signatures[MATRIX_SIGNATURE]
    predicted = np.concatenate(
        [
            matrix(**{MATRIX_INPUT: features[start : start + BATCH_ROWS]})[OUTPUT_COVER_TYPE]
            .numpy()
            .reshape(-1)
            for start in range(0, len(features), BATCH_ROWS)
        ]
    )
    accuracy = float(accuracy_score(labels, predicted))
    macro_f1 = float(f1_score(labels, predicted, average="macro", labels=sorted(set(labels))))
    return accuracy, macro_f1


def _interleaved_latency(
    functions: dict[str, Callable[..., Any]], requests: list[dict[str, Any]]
) -> dict[str, list[float]]:
    names = list(functions)
    for name in names:
        for request in requests[:WARMUP_CALLS]:
            functions[name](**request)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for index, request in enumerate(requests):
        order = names if index % 2 == 0 else names[::-1]
        for name in order:
            start = time.perf_counter()
            functions[name](**request)
            seconds[name].append(time.perf_counter() - start)
    return seconds
