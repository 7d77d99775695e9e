"""Scoring predictions against labels: the figures that go into the model card."""

from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score

from covertype.schema import CLASS_NAMES

CLASSES: tuple[int, ...] = tuple(sorted(CLASS_NAMES))


def score(labels: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """Accuracy, macro F1, recall per class and the confusion matrix, as JSON-ready values.

    Confusion matrix rows are true cover types 1..7, columns predicted cover types 1..7.
    """
    recall = recall_score(labels, predicted, labels=CLASSES, average=None, zero_division=0)
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "macro_f1": float(
            f1_score(labels, predicted, labels=CLASSES, average="macro", zero_division=0)
        ),
        "per_class_recall": {str(c): float(r) for c, r in zip(CLASSES, recall, strict=True)},
        "confusion_matrix": confusion_matrix(labels, predicted, labels=CLASSES).tolist(),
    }
