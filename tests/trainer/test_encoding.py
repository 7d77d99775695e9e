"""The piecewise-linear encoding: bin edges at the training quantiles, values placed in them."""

import numpy as np
import pytest

from trainer.encoding import PiecewiseLinearEncoding


def encoder(values: np.ndarray, bins: int) -> PiecewiseLinearEncoding:
    layer = PiecewiseLinearEncoding(bins)
    layer.adapt(values)
    return layer


def encode(layer: PiecewiseLinearEncoding, values: list[list[float]]) -> np.ndarray:
    return np.asarray(layer(np.array(values, dtype=np.float32)))


def test_edges_are_the_training_quantiles() -> None:
    layer = encoder(np.arange(101, dtype=np.float32).reshape(-1, 1), bins=4)
    np.testing.assert_allclose(layer.lefts.numpy(), [[0, 25, 50, 75]])
    np.testing.assert_allclose(layer.widths.numpy(), [[25, 25, 25, 25]])


def test_a_value_fills_the_bins_below_it_and_part_of_its_own() -> None:
    layer = encoder(np.arange(101, dtype=np.float32).reshape(-1, 1), bins=4)
    np.testing.assert_allclose(
        encode(layer, [[0], [60], [100]]),
        [[0, 0, 0, 0], [1, 1, 0.4, 0], [1, 1, 1, 1]],
        atol=1e-6,
    )


def test_values_outside_the_training_range_saturate() -> None:
    layer = encoder(np.arange(101, dtype=np.float32).reshape(-1, 1), bins=4)
    np.testing.assert_allclose(encode(layer, [[-500], [1e9]]), [[0, 0, 0, 0], [1, 1, 1, 1]])


def test_features_with_few_distinct_values_get_bins_that_always_read_zero() -> None:
    values = np.array([[0, 0], [0, 10], [0, 20], [1, 30], [1, 40], [1, 50]], dtype=np.float32)
    layer = encoder(values, bins=3)
    out = encode(layer, [[1, 50], [1e30, -1e30]])
    assert out.shape == (2, 6)  # features side by side, 3 bins each
    np.testing.assert_allclose(out[:, :3], [[1, 0, 0], [1, 0, 0]])  # one real bin: 0 to 1
    assert out[0, 3:].tolist() == [1, 1, 1]


@pytest.mark.parametrize("bins", [1, 8])
def test_output_width_is_features_times_bins(bins: int) -> None:
    layer = encoder(np.random.default_rng(0).normal(size=(50, 5)).astype(np.float32), bins)
    assert encode(layer, [[0.0] * 5]).shape == (1, 5 * bins)
