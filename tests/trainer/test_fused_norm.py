"""Fused batch normalisation: Keras's layer, the same values and gradients, fewer kernels."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from trainer.fused_norm import FusedBatchNormalization

_ROWS = np.random.default_rng(0).normal(3.0, 2.0, size=(64, 12)).astype(np.float32)


def _pair(dtype: str = "float32") -> tuple[keras.layers.Layer, keras.layers.Layer]:
    """A Keras and a fused layer with the same (non-trivial) weights."""
    plain = keras.layers.BatchNormalization(dtype=dtype)
    fused = FusedBatchNormalization(dtype=dtype)
    for layer in (plain, fused):
        layer.build(_ROWS.shape)
        layer.gamma.assign(np.linspace(0.5, 1.5, 12, dtype=np.float32))
        layer.beta.assign(np.linspace(-1.0, 1.0, 12, dtype=np.float32))
    return plain, fused


def _outputs_and_gradients(layer: keras.layers.Layer, rows: tf.Tensor) -> list[np.ndarray]:
    with tf.GradientTape() as tape:
        tape.watch(rows)
        out = layer(rows, training=True)
        loss = tf.reduce_sum(tf.square(tf.cast(out, tf.float32) - 0.5) * tf.range(12.0))
    grads = tape.gradient(loss, [rows, layer.gamma.value, layer.beta.value])
    return [np.asarray(tf.cast(t, tf.float32)) for t in [out, *grads]]


def test_training_values_and_gradients_match_keras() -> None:
    plain, fused = _pair()
    rows = tf.constant(_ROWS)
    for expected, got in zip(
        _outputs_and_gradients(plain, rows), _outputs_and_gradients(fused, rows), strict=True
    ):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_moving_statistics_follow_the_batch_like_keras() -> None:
    plain, fused = _pair()
    for _ in range(3):
        plain(_ROWS, training=True)
        fused(_ROWS, training=True)
    np.testing.assert_allclose(fused.moving_mean.numpy(), plain.moving_mean.numpy(), rtol=1e-5)
    kept = plain.momentum**3  # of the starting moving variance, 1
    variance = np.var(_ROWS, axis=0)
    np.testing.assert_allclose(
        plain.moving_variance.numpy(), kept + (1 - kept) * variance, rtol=1e-5
    )
    unbiased = variance * len(_ROWS) / (len(_ROWS) - 1)  # what the fused kernel reports
    np.testing.assert_allclose(
        fused.moving_variance.numpy(), kept + (1 - kept) * unbiased, rtol=1e-5
    )
    np.testing.assert_allclose(
        np.asarray(fused(_ROWS, training=False)),
        np.asarray(plain(_ROWS, training=False)),
        rtol=0.002,
        atol=0.005,
    )


def test_bfloat16_activations_are_normalised_in_one_kernel_each_way() -> None:
    plain, fused = _pair("mixed_bfloat16")
    rows = tf.cast(tf.constant(_ROWS), tf.bfloat16)
    # Keras computes in float32 between bfloat16 casts; the kernel reads bfloat16 directly
    for expected, got in zip(
        _outputs_and_gradients(plain, rows), _outputs_and_gradients(fused, rows), strict=True
    ):
        np.testing.assert_allclose(got, expected, atol=0.01 * np.abs(expected).max())
    assert fused(rows, training=True).dtype == tf.bfloat16

    graph = (
        tf.function(lambda x: fused(x, training=True))
        .get_concrete_function(tf.TensorSpec((None, 12), tf.bfloat16))
        .graph
    )
    kinds = [operation.type for operation in graph.get_operations()]
    assert kinds.count("FusedBatchNormV3") == 1
    assert "Cast" not in kinds, "bfloat16 activations are read as they are"


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"renorm": True}, "without renorm"), ({"center": False}, "center=True and scale=True")],
)
def test_settings_the_kernel_cannot_honour_are_refused(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FusedBatchNormalization(**settings)


def test_inputs_other_than_rows_of_units_are_refused() -> None:
    with pytest.raises(ValueError, match=r"takes \[batch, units\]"):
        FusedBatchNormalization().build((None, 4, 12))
