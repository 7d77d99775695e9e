"""The model card written under `assets.extra/`: metrics.json and two plots.

Plots use Matplotlib's object API with the Agg canvas, so no display and no global
backend state are involved.
"""

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay

from covertype.defaults import METRICS_FILE
from covertype.schema import CLASS_NAMES, FEATURE_COLUMNS

CONFUSION_MATRIX_PLOT = "confusion_matrix.png"
TRAINING_CURVE_PLOT = "training_curve.png"


def write_card(folder: Path, card: dict[str, Any], history: dict[str, list[float]]) -> None:
    """Write metrics.json, the confusion-matrix plot and the training-curve plot into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / METRICS_FILE).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    _plot_confusion_matrix(np.array(card["confusion_matrix"]), folder / CONFUSION_MATRIX_PLOT)
    _plot_training_curve(history, folder / TRAINING_CURVE_PLOT)


def feature_ranges(features: np.ndarray) -> dict[str, dict[str, float]]:
    """Minimum and maximum of every feature over the training rows (a reference for drift)."""
    low, high = features.min(axis=0), features.max(axis=0)
    return {
        name: {"min": float(lo), "max": float(hi)}
        for name, lo, hi in zip(FEATURE_COLUMNS, low, high, strict=True)
    }


def git_commit(directory: Path) -> str | None:
    """The commit checked out in `directory`'s repository, or None outside a git checkout."""
    try:
        result = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


def _plot_confusion_matrix(matrix: np.ndarray, path: Path) -> None:
    figure = Figure(figsize=(8, 7), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    labels = [f"{number} {name}" for number, name in CLASS_NAMES.items()]
    display = ConfusionMatrixDisplay(matrix, display_labels=labels)
    display.plot(ax=axes, cmap="Blues", xticks_rotation=45, colorbar=False)
    axes.set_title("Test split: true vs predicted cover type")
    figure.savefig(path, dpi=100)


def _plot_training_curve(history: dict[str, list[float]], path: Path) -> None:
    figure = Figure(figsize=(10, 4), layout="constrained")
    FigureCanvasAgg(figure)
    epochs = np.arange(1, len(history["loss"]) + 1)
    for axes, metric in zip(figure.subplots(1, 2), ("loss", "accuracy"), strict=True):
        axes.plot(epochs, history[metric], label="training rows")
        axes.set_xlabel("epoch")
        axes.set_title(metric)
        axes.legend()
    figure.savefig(path, dpi=100)
