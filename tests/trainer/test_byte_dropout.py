"""Dropout from random bytes: the rate rounded to 1/256, expectations kept, seeded."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from trainer.byte_dropout import ByteDropout

_ONES = np.ones((1000, 1000), dtype=np.float32)


def test_drops_the_rounded_rate_and_scales_what_it_keeps() -> None:
    out = np.asarray(ByteDropout(0.2, seed=1)(_ONES, training=True))
    assert set(np.unique(out)) == {0.0, np.float32(256 / 205)}
    dropped = float(np.mean(out == 0.0))
    assert abs(dropped - 51 / 256) < 0.002  # a million units: the standard error is 0.0004
    assert abs(float(out.mean()) - 1.0) < 0.003


def test_inference_and_a_zero_rate_leave_values_alone() -> None:
    np.testing.assert_array_equal(np.asarray(ByteDropout(0.2)(_ONES, training=False)), _ONES)
    np.testing.assert_array_equal(np.asarray(ByteDropout(0.001)(_ONES, training=True)), _ONES)


def test_masks_change_per_call_and_repeat_with_the_seed() -> None:
    def masks() -> list[np.ndarray]:
        layer = ByteDropout(0.5, seed=7)
        return [np.asarray(layer(_ONES[:8, :9], training=True)) == 0 for _ in range(2)]

    first, second = masks()
    assert first.shape == (8, 9), "any number of units, not only multiples of four"
    assert not np.array_equal(first, second)
    again = masks()
    np.testing.assert_array_equal(again[0], first)
    np.testing.assert_array_equal(again[1], second)


def test_the_gradient_is_the_mask() -> None:
    layer = ByteDropout(0.3, seed=3)
    values = tf.constant(_ONES[:16, :32] * 2.0)
    with tf.GradientTape() as tape:
        tape.watch(values)
        out = layer(values, training=True)
    gradient = tape.gradient(out, values).numpy()
    np.testing.assert_allclose(gradient, out.numpy() / 2.0)


def test_bfloat16_activations_stay_bfloat16() -> None:
    layer = ByteDropout(0.2, seed=0, dtype="mixed_bfloat16")
    assert layer(tf.cast(_ONES[:4], tf.bfloat16), training=True).dtype == tf.bfloat16


def test_round_trips_through_its_config() -> None:
    layer = ByteDropout(0.2, seed=5, name="drop")
    copy = keras.layers.deserialize(keras.layers.serialize(layer))
    assert isinstance(copy, ByteDropout) and copy.rate == 0.2 and copy.cut == 51


@pytest.mark.parametrize(
    ("rate", "settings", "message"),
    [(0.999, {}, "rounds to 256/256"), (0.2, {"noise_shape": (1, 10)}, "noise_shape")],
)
def test_settings_it_cannot_honour_are_refused(rate: float, settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ByteDropout(rate, **settings)
