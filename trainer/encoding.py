"""Piecewise-linear encoding of numeric features, adapted to the training rows' quantiles.

A value becomes one number per bin: 0 below the bin, 1 above it, and its relative
position inside it, so a network can draw sharp, tree-like thresholds (elevation bands
matter a lot for cover types) while the encoding stays continuous. Bins whose edges
coincide (features with few distinct values) are padded with bins that always read 0.
"""

from typing import Any

import keras
import numpy as np

_UNUSED_LEFT = 3.0e38  # a left edge no finite float32 value passes


@keras.saving.register_keras_serializable(package="covertype")
class PiecewiseLinearEncoding(keras.layers.Layer):
    """`[batch, features]` -> `[batch, features * bins]`, bin edges at training quantiles."""

    def __init__(self, bins: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bins = bins

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        shape = (input_shape[-1], self.bins)
        self.lefts = self.add_weight(
            shape=shape, initializer="zeros", trainable=False, name="lefts"
        )
        self.widths = self.add_weight(
            shape=shape, initializer="ones", trainable=False, name="widths"
        )

    def adapt(self, values: np.ndarray) -> None:
        """Set the bin edges from `values` (`[rows, features]`): equal-count bins per feature."""
        if not self.built:
            self.build(values.shape)
        lefts = np.full((values.shape[1], self.bins), _UNUSED_LEFT, dtype=np.float32)
        widths = np.ones((values.shape[1], self.bins), dtype=np.float32)
        quantiles = np.linspace(0.0, 1.0, self.bins + 1)
        for column in range(values.shape[1]):
            edges = np.unique(np.quantile(values[:, column], quantiles)).astype(np.float32)
            used = len(edges) - 1
            lefts[column, :used] = edges[:-1]
            widths[column, :used] = np.diff(edges)
        self.lefts.assign(lefts)
        self.widths.assign(widths)

    def call(self, values: Any) -> Any:
        ops = keras.ops
        position = (ops.expand_dims(values, -1) - self.lefts) / self.widths
        encoded = ops.clip(position, 0.0, 1.0)
        return ops.reshape(encoded, (-1, self.lefts.shape[0] * self.bins))

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, int]:
        return (input_shape[0], input_shape[-1] * self.bins)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "bins": self.bins}
