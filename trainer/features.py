"""Features derived from the raw values, as a Keras layer inside the exported graph.

The same layer gives the tree baselines of `benchmarks/model_quality.py` their
features (`engineered_table`), so network and trees are compared on the same inputs.
"""

import math
from typing import Any

import keras
import numpy as np

from covertype.schema import NUMERIC_COLUMNS

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


def engineered_table(features: np.ndarray) -> np.ndarray:
    """`[rows, 54]` raw values -> the engineered numeric columns, then the 44 indicators."""
    numeric = keras.ops.convert_to_numpy(CoverFeatures()(features.astype(np.float32)))
    return np.concatenate([numeric, features[:, len(NUMERIC_COLUMNS) :]], axis=1)
