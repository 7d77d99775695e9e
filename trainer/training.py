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
from trainer.splits import Split


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
    model = build_model(split.train.features, hyper)
    steps = epochs * math.ceil(split.train.rows / hyper.batch_size)
    warmup = int(steps * hyper.warmup_fraction)
    schedule = keras.optimizers.schedules.CosineDecay(  # warm up, then decay to 0 at the end
        initial_learning_rate=hyper.learning_rate / 10,
        decay_steps=steps - warmup,
        warmup_target=hyper.learning_rate,
        warmup_steps=warmup,
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=hyper.weight_decay),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=hyper.label_smoothing),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )
    stopper = keras.callbacks.EarlyStopping(
        monitor=hyper.monitor,
        mode=_mode(hyper.monitor),
        patience=hyper.patience,
        restore_best_weights=True,
    )
    callbacks: list[keras.callbacks.Callback] = [stopper]
    if progress is not None:
        callbacks.append(EpochProgress(epochs, hyper, progress))
    started = time.perf_counter()
    fitted = model.fit(
        split.train.features,
        _one_hot(split.train.labels),
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
    return TrainingRun(model, history, best_epoch, seconds)


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


def _one_hot(labels: np.ndarray) -> np.ndarray:
    """Cover types 1..7 as one-hot rows (column i for cover type i + 1)."""
    return keras.utils.to_categorical(labels - 1, NUM_CLASSES)
