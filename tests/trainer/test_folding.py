"""Batch normalisation folded into the dense layers: the same function, fewer operations."""

import dataclasses
from pathlib import Path

import keras
import numpy as np
import pytest

from trainer.api import DEFAULT_HYPERPARAMETERS, load_validated_data
from trainer.folding import fold_batch_norm
from trainer.model import build_model


@pytest.fixture(scope="module")
def rows(train_csv: Path) -> np.ndarray:
    return load_validated_data(train_csv).features[:300]


def _with_trained_like_statistics(model: keras.Model) -> keras.Model:
    """Give every BatchNormalization non-trivial scale, offset and moving statistics."""
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            units = layer.gamma.shape[0]
            layer.gamma.assign(rng.uniform(0.5, 2.0, units).astype(np.float32))
            layer.beta.assign(rng.normal(0.0, 0.5, units).astype(np.float32))
            layer.moving_mean.assign(rng.normal(0.0, 2.0, units).astype(np.float32))
            layer.moving_variance.assign(rng.uniform(0.1, 5.0, units).astype(np.float32))
    return model


def _folded_with_the_same_outputs(model: keras.Model, rows: np.ndarray) -> keras.Model:
    """`fold_batch_norm(model)`, checked to answer `rows` as `model` does."""
    folded = fold_batch_norm(model)
    np.testing.assert_allclose(
        np.asarray(folded(rows, training=False)),
        np.asarray(model(rows, training=False)),
        rtol=1e-4,
        atol=1e-6,
    )
    return folded


def test_the_folded_model_serves_the_same_probabilities_without_batch_norm(
    rows: np.ndarray,
) -> None:
    hyper = dataclasses.replace(
        DEFAULT_HYPERPARAMETERS, hidden_units=(32, 16, 8), compute_dtype="float32"
    )
    model = _with_trained_like_statistics(build_model(rows, hyper).serving)
    folded = _folded_with_the_same_outputs(model, rows)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers)
    assert all(folded.get_layer(f"dense_{i}").use_bias for i in (1, 2, 3))
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers), (
        "the original model is left as it was"
    )


def test_a_grouped_ensemble_keeps_its_batch_norm_and_its_outputs(rows: np.ndarray) -> None:
    hyper = dataclasses.replace(
        DEFAULT_HYPERPARAMETERS, members=2, hidden_units=(16, 8), compute_dtype="float32"
    )
    model = _with_trained_like_statistics(build_model(rows, hyper).serving)
    folded = _folded_with_the_same_outputs(model, rows)
    # only the first layer (a plain Dense read by every member) is folded
    norms = [
        layer.name for layer in folded.layers if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert norms == ["batch_norm_2"]
