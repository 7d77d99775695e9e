"""The Keras model: raw feature values in, class probabilities out.

Feature engineering and normalisation are layers of the model, so the exported graph
takes the 54 raw values exactly as they appear in the data; no client ever normalises.
"""

import math
from dataclasses import asdict, dataclass
from typing import Any

import keras
import numpy as np

from covertype.schema import FEATURE_COLUMNS, NUM_CLASSES, NUMERIC_COLUMNS

ENGINEERED_COLUMNS: tuple[str, ...] = (
    *NUMERIC_COLUMNS,
    "Distance_To_Hydrology",
    "Elevation_Minus_Vertical_Hydrology",
    "Elevation_Minus_Horizontal_Hydrology",
    "Hydrology_Plus_Fire",
    "Hydrology_Fire_Difference",
    "Hydrology_Plus_Road",
    "Hydrology_Road_Difference",
    "Fire_Plus_Road",
    "Fire_Road_Difference",
    "Aspect_Sin",
    "Aspect_Cos",
    "Hillshade_Sum",
)


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


@keras.saving.register_keras_serializable(package="covertype")
class CoverFeatures(keras.layers.Layer):
    """The ten raw numeric features followed by features derived from them (no weights).

    Trees split on these combinations directly; for the network they mostly ease the
    learning: distances combined with each other and with elevation, and aspect (an
    angle) as its sine and cosine so that 359 and 1 degrees are neighbours.
    """

    def call(self, features: Any) -> Any:  # backend tensors (tf.Tensor here)
        ops = keras.ops
        (
            elevation,
            aspect,
            _slope,
            hydrology,
            vertical,
            road,
            shade_9am,
            shade_noon,
            shade_3pm,
            fire,
        ) = (features[:, i] for i in range(len(NUMERIC_COLUMNS)))
        radians = aspect * (math.pi / 180.0)
        derived = ops.stack(
            [
                ops.sqrt(hydrology * hydrology + vertical * vertical),
                elevation - vertical,
                elevation - 0.2 * hydrology,
                hydrology + fire,
                ops.abs(hydrology - fire),
                hydrology + road,
                ops.abs(hydrology - road),
                fire + road,
                ops.abs(fire - road),
                ops.sin(radians),
                ops.cos(radians),
                shade_9am + shade_noon + shade_3pm,
            ],
            axis=1,
        )
        return ops.concatenate([features[:, : len(NUMERIC_COLUMNS)], derived], axis=1)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, int]:
        return (input_shape[0], len(ENGINEERED_COLUMNS))


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
