"""The Keras model: raw feature values in, class probabilities out.

Feature engineering and normalisation are layers of the model, so the exported graph
takes the 54 raw values exactly as they appear in the data; no client ever normalises.
"""

from dataclasses import asdict, dataclass

import keras
import numpy as np

from covertype.schema import FEATURE_COLUMNS, NUM_CLASSES, NUMERIC_COLUMNS
from trainer.features import CoverFeatures


@dataclass(frozen=True)
class Hyperparameters:
    """Everything about the network and its optimiser except the epoch budget and seed."""

    hidden_units: tuple[int, ...] = (512, 256)
    dropout: float = 0.2
    batch_size: int = 512
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    warmup_fraction: float = 0.05  # share of all steps spent warming the learning rate up
    monitor: str = "val_accuracy"  # what early stopping watches: val_accuracy or val_loss
    patience: int = 30  # epochs without a better monitored value before stopping

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-ready values, for the model card."""
        values = asdict(self)
        values["hidden_units"] = list(self.hidden_units)
        return values


def build_model(train_features: np.ndarray, hyper: Hyperparameters) -> keras.Model:
    """The network, with its normalisation adapted to `train_features` ([rows, 54], raw values).

    Output: softmax probabilities over the classes, column i for cover type i + 1.
    """
    inputs = keras.Input(shape=(len(FEATURE_COLUMNS),), dtype="float32", name="features")
    engineer = CoverFeatures(name="engineer")
    normalise = keras.layers.Normalization(name="normalise")
    normalise.adapt(engineer(train_features))
    one_hot = inputs[:, len(NUMERIC_COLUMNS) :]  # wilderness and soil indicators pass through
    x = keras.layers.Concatenate(name="inputs")([normalise(engineer(inputs)), one_hot])
    for i, units in enumerate(hyper.hidden_units, start=1):
        x = keras.layers.Dense(units, use_bias=False, name=f"dense_{i}")(x)
        x = keras.layers.BatchNormalization(name=f"batch_norm_{i}")(x)
        x = keras.layers.Activation("relu", name=f"relu_{i}")(x)
        x = keras.layers.Dropout(hyper.dropout, name=f"dropout_{i}")(x)
    outputs = keras.layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="covertype")
