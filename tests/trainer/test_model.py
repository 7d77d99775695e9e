"""The network's layers: grouped dense layers, and the ensemble served as its members' mean."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from trainer.api import DEFAULT_HYPERPARAMETERS
from trainer.grouped import GroupedDense
from trainer.model import build_model


def test_grouped_dense_maps_each_group_with_its_own_kernel_only() -> None:
    layer = GroupedDense(groups=3, units=2)
    values = np.random.default_rng(0).normal(size=(5, 3 * 4)).astype(np.float32)
    layer.build(values.shape)
    kernel = layer.kernel.numpy()
    layer.bias.assign(np.arange(6, dtype=np.float32))
    out = np.asarray(layer(values))
    expected = np.concatenate(
        [values[:, 4 * g : 4 * (g + 1)] @ kernel[g] for g in range(3)], axis=1
    ) + np.arange(6)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_grouped_dense_kernels_start_at_the_scale_of_one_dense_layer() -> None:
    layer = GroupedDense(groups=8, units=64, use_bias=False)
    layer.build((None, 8 * 256))
    limit = np.sqrt(6 / (256 + 64))  # Glorot uniform for one group's [256, 64] kernel
    kernel = layer.kernel.numpy()
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.95 * limit
    assert layer.bias is None


@pytest.fixture(scope="module")
def rows(train_csv: Path) -> np.ndarray:
    from trainer.api import load_validated_data

    return load_validated_data(train_csv).features[:300]


def test_the_served_probabilities_are_the_mean_of_the_members(rows: np.ndarray) -> None:
    hyper = dataclasses.replace(DEFAULT_HYPERPARAMETERS, members=3, hidden_units=(16, 8))
    network = build_model(rows, hyper)
    members = np.asarray(network.training(rows, training=False))
    served = np.asarray(network.serving(rows, training=False))
    assert members.shape == (300, 3, 7) and served.shape == (300, 7)
    np.testing.assert_allclose(members.sum(axis=2), 1.0, rtol=1e-5)
    np.testing.assert_allclose(served, members.mean(axis=1), rtol=1e-5, atol=1e-7)
    assert not np.allclose(members[:, 0], members[:, 1]), "members start from different weights"


def test_one_member_is_a_plain_network(rows: np.ndarray) -> None:
    hyper = dataclasses.replace(DEFAULT_HYPERPARAMETERS, members=1, hidden_units=(16, 8))
    network = build_model(rows, hyper)
    np.testing.assert_allclose(
        np.asarray(network.serving(rows, training=False)),
        np.asarray(network.training(rows, training=False))[:, 0],
        rtol=1e-6,
    )
    grouped = [layer.name for layer in network.serving.layers if isinstance(layer, GroupedDense)]
    assert grouped == [], "one member's layers are plain Dense layers (one MatMul each)"
