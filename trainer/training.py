"""Fitting the model: seeded and deterministic, early stopping on the validation split."""

import math
import sys
import time
from dataclasses import dataclass
from typing import TextIO

import keras
import numpy as np
import tensorflow as tf

from covertype.schema import NUM_CLASSES
from trainer.model import Hyperparameters, build_model
from trainer.splits import Rows, Split
from trainer.teacher import TreeTeacher, out_of_bag_probabilities, synthetic_rows


@dataclass(frozen=True)
class TrainingRun:
    """A fitted model (best validation weights restored) and how it got there."""

    model: keras.Model
    history: dict[str, list[float]]  # per epoch: loss, accuracy, val_loss, val_accuracy
    best_epoch: int  # 1-based epoch whose weights the model holds
    seconds: float

    @property
    def epochs_run(self) -> int:
        """Epochs actually run (fewer than asked for when early stopping ended training)."""
        return len(self.history["loss"])


def make_deterministic(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's kernels deterministic.

    Op determinism is a process-wide TensorFlow setting; it costs little for this model.
    """
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def train(
    split: Split,
    epochs: int,
    seed: int,
    hyper: Hyperparameters,
    progress: TextIO | None = sys.stdout,
) -> TrainingRun:
    """Train on `split.train`, stop early on `split.validation`; print progress unless None."""
    make_deterministic(seed)
    network = build_model(split.train.features, hyper)
    rows = split.train.rows + round(split.train.rows * hyper.synthetic_rows)
    steps = epochs * math.ceil(rows / hyper.batch_size)
    warmup = int(steps * hyper.warmup_fraction)
    schedule = keras.optimizers.schedules.CosineDecay(  # warm up, then decay to 0 at the end
        initial_learning_rate=hyper.learning_rate / 10,
        decay_steps=steps - warmup,
        warmup_target=hyper.learning_rate,
        warmup_steps=warmup,
    )
    averaging = hyper.weight_average > 0
    network.training.compile(
        optimizer=keras.optimizers.AdamW(
            schedule,
            weight_decay=hyper.weight_decay,
            use_ema=averaging,
            ema_momentum=hyper.weight_average if averaging else 0.99,
        ),
        loss=MembersCrossEntropy(hyper.label_smoothing),
        metrics=[keras.metrics.MeanMetricWrapper(_mean_accuracy, name="accuracy")],
    )
    callbacks: list[keras.callbacks.Callback] = []
    if averaging:  # validate, and keep as best, the averaged weights
        callbacks.append(keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    callbacks.append(
        keras.callbacks.EarlyStopping(
            monitor=hyper.monitor,
            mode=_mode(hyper.monitor),
            patience=hyper.patience,
            restore_best_weights=True,
        )
    )
    if progress is not None:
        callbacks.append(EpochProgress(epochs, hyper, progress))
    started = time.perf_counter()
    features, targets = _training_rows(split.train, seed, hyper, progress)
    fitted = network.training.fit(
        features,
        targets,
        validation_data=(split.validation.features, _one_hot(split.validation.labels)),
        epochs=epochs,
        batch_size=hyper.batch_size,
        shuffle=True,
        verbose=0,
        callbacks=callbacks,
    )
    seconds = time.perf_counter() - started
    history = {name: [float(v) for v in values] for name, values in fitted.history.items()}
    watched = np.array(history[hyper.monitor])
    best = np.argmax(watched) if _mode(hyper.monitor) == "max" else np.argmin(watched)
    best_epoch = int(best) + 1
    return TrainingRun(network.serving, history, best_epoch, seconds)


class EpochProgress(keras.callbacks.Callback):
    """One line per epoch: loss and accuracy on training and validation data.

    A `*` marks an epoch whose weights early stopping keeps as the best so far.
    """

    def __init__(self, epochs: int, hyper: Hyperparameters, stream: TextIO) -> None:
        super().__init__()
        self._epochs = epochs
        self._monitor = hyper.monitor
        self._sign = 1.0 if _mode(hyper.monitor) == "max" else -1.0
        self._stream = stream
        self._best = -math.inf
        self._started = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        value = self._sign * logs[self._monitor]
        improved = value > self._best
        if improved:
            self._best = value
        width = len(str(self._epochs))
        print(
            f"epoch {epoch + 1:>{width}}/{self._epochs}"
            f"  loss {logs['loss']:.4f}  accuracy {logs['accuracy']:.4f}"
            f"  val_loss {logs['val_loss']:.4f}  val_accuracy {logs['val_accuracy']:.4f}"
            f"  {time.perf_counter() - self._started:.1f}s{'  *' if improved else ''}",
            file=self._stream,
            flush=True,
        )


def _mode(monitor: str) -> str:
    """Whether a larger ("max") or smaller ("min") value of `monitor` is better."""
    return "min" if monitor.endswith("loss") else "max"


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
    """Features and targets to fit: the training rows, then any teacher-labelled rows.

    Targets are one-hot labels, mixed with the tree teacher's out-of-bag probabilities
    when distilling; synthetic rows get the teacher's probabilities.
    """
    started = time.perf_counter()
    features, targets = rows.features, _one_hot(rows.labels)
    if hyper.distillation > 0:
        teacher = out_of_bag_probabilities(rows.features, rows.labels, hyper.teacher_trees, seed)
        targets = (1.0 - hyper.distillation) * targets + hyper.distillation * teacher
    count = round(rows.rows * hyper.synthetic_rows)
    if count > 0:
        extra = synthetic_rows(rows.features, count, seed)
        labels = TreeTeacher(rows.features, rows.labels, hyper.teacher_trees, seed)
        features = np.concatenate([features, extra])
        targets = np.concatenate([targets, labels.probabilities(extra)])
    if progress is not None and (hyper.distillation > 0 or count > 0):
        print(
            f"teacher: ExtraTrees ({hyper.teacher_trees} trees), {count:,} synthetic rows, "
            f"{time.perf_counter() - started:.1f}s",
            file=progress,
            flush=True,
        )
    return features, targets.astype(np.float32)


def _one_hot(labels: np.ndarray) -> np.ndarray:
    """Cover types 1..7 as one-hot rows (column i for cover type i + 1)."""
    return keras.utils.to_categorical(labels - 1, NUM_CLASSES)
