"""A dense layer applied group by group: several small networks computed as one layer.

A `[batch, groups * in]` tensor holds group g's values at `[g * in, (g + 1) * in)`;
`GroupedDense` maps each group with its own `[in, units]` kernel, to `[batch, groups *
units]`. It serves two purposes in the model: the members of the ensemble (each
member's units form a group, so every later layer of all members is one layer) and
per-feature embeddings (each numeric feature's encoding is a group). The exported graph
then has the same few operations whatever the number of groups, which keeps one-row
latency close to a single network's.
"""

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="covertype")
class GroupedDense(keras.layers.Layer):
    """`[batch, groups * in]` -> `[batch, groups * units]`, each group with its own kernel."""

    def __init__(self, groups: int, units: int, use_bias: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.groups = groups
        self.units = units
        self.use_bias = use_bias

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        inputs = input_shape[-1] // self.groups
        # Glorot uniform for one group's [inputs, units] kernel (Keras would count the
        # group axis as a receptive field and shrink the scale by `groups`).
        initializer = keras.initializers.VarianceScaling(
            scale=float(self.groups), mode="fan_avg", distribution="uniform"
        )
        self.kernel = self.add_weight(
            shape=(self.groups, inputs, self.units), initializer=initializer, name="kernel"
        )
        self.bias = (
            self.add_weight(shape=(self.groups * self.units,), initializer="zeros", name="bias")
            if self.use_bias
            else None
        )

    def call(self, values: Any) -> Any:
        ops = keras.ops
        per_group = ops.reshape(values, (-1, self.groups, self.kernel.shape[1]))
        mapped = ops.einsum("bgi,giu->bgu", per_group, self.kernel)
        out = ops.reshape(mapped, (-1, self.groups * self.units))
        return out + self.bias if self.bias is not None else out

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, int]:
        return (input_shape[0], self.groups * self.units)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "groups": self.groups,
            "units": self.units,
            "use_bias": self.use_bias,
        }
