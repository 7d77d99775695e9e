"""Folding batch normalisation into the dense layer before it, for serving.

At inference a BatchNormalization layer is a fixed affine map of each unit, so a bias-free
`Dense` followed by it is one `Dense` with a bias: kernel columns scaled by
`gamma / sqrt(moving_variance + epsilon)`, bias `beta - moving_mean * scale`. The folded
graph computes the same probabilities (to float rounding) with a MatMul and a BiasAdd per
layer, which the graph optimiser of TensorFlow (and TF Serving) fuses with the ReLU after
it, instead of the half-dozen element-wise operations of a BatchNormalization.
"""

from typing import Any

import keras
import numpy as np


def fold_batch_norm(model: keras.Model) -> keras.Model:
    """`model` with every bias-free Dense -> BatchNormalization pair merged into one Dense.

    Layers that are not folded are shared with `model` (same weights); `model` itself is
    unchanged. A model without such a pair is returned as it is.
    """
    pairs = _foldable_pairs(model)
    if not pairs:
        return model
    folded_dense = {dense.name for dense, _ in pairs}
    folded_norm = {norm.name for _, norm in pairs}

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        if layer.name in folded_dense:
            return keras.layers.Dense(layer.units, use_bias=True, name=layer.name)
        return layer

    def call(layer: keras.layers.Layer, *args: Any, **kwargs: Any) -> Any:
        if layer.name in folded_norm:
            return args[0]  # its work is done by the folded Dense before it
        return layer(*args, **kwargs)

    folded = keras.models.clone_model(model, clone_function=clone, call_function=call)
    for dense, norm in pairs:
        folded.get_layer(dense.name).set_weights(_folded_weights(dense, norm))
    return folded


def _foldable_pairs(model: keras.Model) -> list[tuple[keras.layers.Dense, keras.layers.Layer]]:
    """(Dense, BatchNormalization) pairs where the norm is the only operation of `model` that
    reads that bias-free, linear Dense, and normalises its last axis.

    Operations outside `model`'s graph do not count: a Dense under a mixed precision policy
    leaves a dead-end autocast `Cast` among its readers when a float32 layer reads it.
    """
    operations = {id(operation) for operation in model.operations}
    pairs = []
    for norm in model.layers:
        if not isinstance(norm, keras.layers.BatchNormalization) or norm.axis not in (-1, 1):
            continue
        source = norm._inbound_nodes[0].input_tensors[0]._keras_history.operation
        readers = [node for node in source._outbound_nodes if id(node.operation) in operations]
        if (
            isinstance(source, keras.layers.Dense)
            and not source.use_bias
            and source.activation is keras.activations.linear
            and len(readers) == 1
            and len(source.kernel.shape) == 2
        ):
            pairs.append((source, norm))
    return pairs


def _folded_weights(dense: keras.layers.Dense, norm: keras.layers.Layer) -> list[np.ndarray]:
    """Kernel and bias of the Dense that computes `norm(dense(x))` at inference."""
    kernel = np.asarray(dense.kernel, dtype=np.float64)
    units = kernel.shape[1]
    gamma = np.asarray(norm.gamma, np.float64) if norm.scale else np.ones(units)
    beta = np.asarray(norm.beta, np.float64) if norm.center else np.zeros(units)
    mean = np.asarray(norm.moving_mean, np.float64)
    variance = np.asarray(norm.moving_variance, np.float64)
    scale = gamma / np.sqrt(variance + norm.epsilon)
    return [(kernel * scale).astype(np.float32), (beta - mean * scale).astype(np.float32)]
