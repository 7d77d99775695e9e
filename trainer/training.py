"""Fitting the model: seeded and deterministic, on a fixed warm-up then cosine schedule."""

import math
import sys
import time
from dataclasses import dataclass, replace
from typing import TextIO

import keras
import numpy as np
import tensorflow as tf

from covertype.schema import NUM_CLASSES
from trainer.fused_adamw import FusedAdamW
from trainer.host_usage import HostUsage, mark, usage_since
from trainer.model import Hyperparameters, build_model
from trainer.precision import resolve_compute_dtype
from trainer.splits import Rows
from trainer.teacher import TreeTeacher, synthetic_rows


@dataclass(frozen=True)
class TrainingRun:
    """A fitted model (weights averaged over the last steps, when asked) and its history."""

    model: keras.Model
    history: dict[str, list[float]]  # per epoch: loss, accuracy (on the training rows)
    usage: HostUsage  # the fit's wall and CPU time, and the hypervisor's share meanwhile
    compute_dtype: str  # what the dense layers' products trained in (exports are float32)

    @property
    def seconds(self) -> float:
        """Wall time of the fit."""
        return self.usage.wall_seconds

    @property
    def epochs_run(self) -> int:
        """Epochs run (all that were asked for: the schedule has no early stop)."""
        return len(self.history["loss"])


def make_deterministic(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's kernels deterministic.

    Op determinism is a process-wide TensorFlow setting; it costs little for this model.
    """
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def train(
    rows: Rows,
    epochs: int,
    seed: int,
    hyper: Hyperparameters,
    progress: TextIO | None = sys.stdout,
) -> TrainingRun:
    """Train on `rows` for `epochs` epochs; print progress unless `progress` is None."""
    make_deterministic(seed)
    compute_dtype = resolve_compute_dtype(hyper.compute_dtype)  # reads the CPU's flags once
    network = build_model(rows.features, replace(hyper, compute_dtype=compute_dtype))
    features, targets = _training_rows(rows, seed, hyper, progress)
    steps = epochs * math.ceil(len(features) / hyper.batch_size)
    warmup = int(steps * hyper.warmup_fraction)
    schedule = keras.optimizers.schedules.CosineDecay(  # warm up, then decay to 0 at the end
        initial_learning_rate=hyper.learning_rate / 10,
        decay_steps=steps - warmup,
        warmup_target=hyper.learning_rate,
        warmup_steps=warmup,
    )
    averaging = hyper.weight_average > 0
    network.training.compile(
        optimizer=FusedAdamW(
            schedule,
            weight_decay=hyper.weight_decay,
            use_ema=averaging,
            ema_momentum=hyper.weight_average if averaging else 0.99,
        ),
        loss=MembersCrossEntropy(hyper.label_smoothing),
        metrics=[keras.metrics.MeanMetricWrapper(_mean_accuracy, name="accuracy")],
    )
    callbacks = [EpochProgress(epochs, progress)] if progress is not None else []
    started = mark()
    fitted = network.training.fit(
        features,
        targets,
        epochs=epochs,
        batch_size=hyper.batch_size,
        shuffle=True,
        verbose=0,
        callbacks=callbacks,
    )  # the optimizer leaves the averaged weights in the model when training ends
    usage = usage_since(started)
    history = {name: [float(v) for v in values] for name, values in fitted.history.items()}
    return TrainingRun(network.serving, history, usage, compute_dtype)


class EpochProgress(keras.callbacks.Callback):
    """One line per epoch: loss and accuracy on the rows trained on, and the time it took."""

    def __init__(self, epochs: int, stream: TextIO) -> None:
        super().__init__()
        self._epochs = epochs
        self._stream = stream
        self._started = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        width = len(str(self._epochs))
        print(
            f"epoch {epoch + 1:>{width}}/{self._epochs}"
            f"  loss {logs['loss']:.4f}  accuracy {logs['accuracy']:.4f}"
            f"  {time.perf_counter() - self._started:.1f}s",
            file=self._stream,
            flush=True,
        )


class MembersCrossEntropy(keras.losses.Loss):
    """Each member's cross-entropy with the labels (smoothed), averaged over the members.

    Members learn independently (no member sees another's output), which is what makes
    their mean better than any one of them.
    """

    def __init__(self, label_smoothing: float, name: str = "members_cross_entropy") -> None:
        super().__init__(name=name)
        self._smoothing = label_smoothing

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        ops = keras.ops
        target = y_true * (1.0 - self._smoothing) + self._smoothing / NUM_CLASSES
        log_p = ops.log(ops.clip(y_pred, keras.config.epsilon(), 1.0))
        return -ops.mean(ops.sum(ops.expand_dims(target, 1) * log_p, axis=-1), axis=-1)

    def get_config(self) -> dict[str, float | str]:
        return {"label_smoothing": self._smoothing, "name": self.name}


def _mean_accuracy(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """Accuracy of the members' mean probabilities (what the exported model serves)."""
    return keras.metrics.categorical_accuracy(y_true, keras.ops.mean(y_pred, axis=1))


def _training_rows(
    rows: Rows, seed: int, hyper: Hyperparameters, progress: TextIO | None
) -> tuple[np.ndarray, np.ndarray]:
    """Features and targets to fit: the rows with their one-hot labels, then any synthetic
    rows with the tree teacher's probabilities."""
    features, targets = rows.features, _one_hot(rows.labels)
    count = round(rows.rows * hyper.synthetic_rows)
    if count == 0:
        return features, targets
    started = time.perf_counter()
    extra = synthetic_rows(rows.features, count, seed)
    teacher = TreeTeacher(rows.features, rows.labels, hyper.teacher_trees, seed)
    extra_targets = teacher.probabilities(extra)
    if progress is not None:
        print(
            f"teacher: ExtraTrees ({hyper.teacher_trees} trees) labelled {count:,} synthetic "
            f"rows in {time.perf_counter() - started:.1f}s",
            file=progress,
            flush=True,
        )
    return np.concatenate([features, extra]), np.concatenate([targets, extra_targets])


def _one_hot(labels: np.ndarray) -> np.ndarray:
    """Cover types 1..7 as one-hot rows (column i for cover type i + 1)."""
    return keras.utils.to_categorical(labels - 1, NUM_CLASSES).astype(np.float32)
