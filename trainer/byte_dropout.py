"""Dropout that decides each unit with one random byte instead of a 32-bit number.

Keras's dropout draws a 32-bit uniform number for every unit, and on a CPU the drawing is
most of what dropout costs while training. A byte decides as well: `ByteDropout` reads
each random 32-bit word as four bytes, one per unit, and drops a unit whose byte is below
`round(rate * 256)`. The rate is therefore rounded to a multiple of 1/256 (0.2 drops
51/256 = 0.1992 of the units), and kept units are scaled by `256 / (256 - cut)` so that
every unit's expected value is unchanged.
"""

from typing import Any

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="covertype")
class ByteDropout(keras.layers.Dropout):
    """`keras.layers.Dropout` (same rate, seed and inference) with masks from random bytes."""

    def __init__(self, rate: float, **kwargs: Any) -> None:
        if kwargs.get("noise_shape") is not None:
            raise ValueError(
                "ByteDropout draws a mask of the input's shape; noise_shape is not supported"
            )
        super().__init__(rate, **kwargs)
        self.cut = round(rate * 256)  # bytes below it drop their unit
        if self.cut == 256:
            raise ValueError(f"ByteDropout's rate rounds to 256/256 (drops every unit), got {rate}")

    def call(self, inputs: Any, training: bool = False) -> Any:
        if not training or self.cut == 0:
            return inputs
        units = tf.size(inputs)
        words = tf.random.stateless_uniform(
            tf.reshape((units + 3) // 4, (1,)),
            tf.cast(self.seed_generator.next(), tf.int32),
            minval=None,
            maxval=None,
            dtype=tf.uint32,
        )
        random_bytes = tf.reshape(tf.bitcast(words, tf.uint8), (-1,))[:units]
        keep = tf.reshape(random_bytes, tf.shape(inputs)) >= self.cut
        scale = tf.constant(256 / (256 - self.cut), inputs.dtype)
        return inputs * tf.where(keep, scale, tf.zeros((), inputs.dtype))
