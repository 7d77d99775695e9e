"""The Keras model: raw feature values in, class probabilities out.

Feature engineering and normalisation are layers of the model, so the exported graph
takes the 54 raw values exactly as they appear in the data; no client ever normalises.
The network is an ensemble: `members` independent networks read the same encoded
features, each is trained on its own loss, and the served probabilities are their mean
(`trainer.grouped` computes the members side by side in the same layers).
"""

from dataclasses import asdict, dataclass

import keras
import numpy as np

from covertype.schema import FEATURE_COLUMNS, NUM_CLASSES, NUMERIC_COLUMNS
from trainer.byte_dropout import ByteDropout
from trainer.encoding import PiecewiseLinearEncoding
from trainer.features import ENGINEERED_COLUMNS, CoverFeatures
from trainer.fused_norm import FusedBatchNormalization
from trainer.grouped import GroupedDense
from trainer.precision import layer_policy, resolve_compute_dtype


@dataclass(frozen=True)
class Hyperparameters:
    """Everything about the network and its optimiser except the epoch budget and seed."""

    hidden_units: tuple[int, ...] = (1024, 512, 256)
    members: int = 1  # networks averaged inside the graph
    numeric_bins: int = 0  # piecewise-linear bins per numeric feature (0: standardised only)
    numeric_embedding: int = 0  # width of each feature's embedding of its bins (0: the bins)
    dropout: float = 0.2
    batch_size: int = 512
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    warmup_fraction: float = 0.05  # share of all steps spent warming the learning rate up
    weight_average: float = 0.0  # EMA momentum of the weights (0: none)
    synthetic_rows: float = 2.0  # rows labelled by a tree teacher, per training row
    teacher_trees: int = 300  # trees of that teacher
    compute_dtype: str = "auto"  # dense layers' products while training (trainer.precision)

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-ready values, for the model card."""
        values = asdict(self)
        values["hidden_units"] = list(self.hidden_units)
        return values


@dataclass(frozen=True)
class Network:
    """Two views of the same layers: members' stacked outputs for training, their mean to serve.

    `training` outputs `[batch, members, classes]`; `serving` outputs `[batch, classes]`,
    column i for cover type i + 1.
    """

    training: keras.Model
    serving: keras.Model


def build_model(train_features: np.ndarray, hyper: Hyperparameters) -> Network:
    """The network, with its normalisation adapted to `train_features` ([rows, 54], raw values).

    Its hidden blocks (dense, batch normalisation, ReLU, dropout) pass activations in
    `hyper.compute_dtype` (resolved by `trainer.precision`).
    """
    policy = layer_policy(resolve_compute_dtype(hyper.compute_dtype))
    inputs = keras.Input(shape=(len(FEATURE_COLUMNS),), dtype="float32", name="features")
    engineer = CoverFeatures(name="engineer")
    engineered_train = engineer(train_features)
    normalise = keras.layers.Normalization(name="normalise")
    normalise.adapt(engineered_train)
    engineered = engineer(inputs)
    parts = [normalise(engineered)]
    if hyper.numeric_bins:
        bins = PiecewiseLinearEncoding(hyper.numeric_bins, name="piecewise_linear")
        bins.adapt(keras.ops.convert_to_numpy(engineered_train))
        encoded_bins = bins(engineered)
        if hyper.numeric_embedding:
            embed = GroupedDense(
                len(ENGINEERED_COLUMNS),
                hyper.numeric_embedding,
                name="numeric_embedding",
                dtype=policy,
            )
            encoded_bins = keras.layers.Activation("relu", name="numeric_embedding_relu")(
                embed(encoded_bins)
            )
        parts.append(encoded_bins)
    parts.append(inputs[:, len(NUMERIC_COLUMNS) :])  # wilderness and soil indicators
    encoded = keras.layers.Concatenate(name="encoded")(parts)
    members = hyper.members
    x = encoded
    for i, units in enumerate(hyper.hidden_units, start=1):
        # every member's first layer reads the same encoded features
        groups = 1 if i == 1 else members
        x = _members_dense(groups, members * units, False, f"dense_{i}", policy)(x)
        x = FusedBatchNormalization(name=f"batch_norm_{i}", dtype=policy)(x)
        x = keras.layers.Activation("relu", name=f"relu_{i}", dtype=policy)(x)
        x = ByteDropout(hyper.dropout, name=f"dropout_{i}", dtype=policy)(x)
    logits = _members_dense(members, members * NUM_CLASSES, True, "logits", policy)(x)
    logits = keras.layers.Reshape((members, NUM_CLASSES), name="member_logits")(logits)
    probabilities = keras.layers.Softmax(name="member_probabilities")(logits)
    mean = keras.layers.GlobalAveragePooling1D(name="probabilities")(probabilities)
    return Network(
        keras.Model(inputs, probabilities, name="covertype_members"),
        keras.Model(inputs, mean, name="covertype"),
    )


def _members_dense(
    groups: int, units: int, use_bias: bool, name: str, policy: str
) -> keras.layers.Layer:
    """A dense layer of `units` outputs in all, split into `groups` independent groups,
    computing under the Keras dtype `policy`.

    One group is a plain `Dense` (a single MatMul: cheaper to train and to serve than the
    grouped layer's einsum with a group axis of 1).
    """
    if groups == 1:
        return keras.layers.Dense(units, use_bias=use_bias, name=name, dtype=policy)
    return GroupedDense(groups, units // groups, use_bias=use_bias, name=name, dtype=policy)
