"""Running one signature of a loaded SavedModel with numpy inputs, with little overhead.

Calling a signature function with keyword tensors costs far more than its graph
when it has many small inputs (the covertype `serving_default` takes 54): every
input becomes its own eager tensor. The runner instead wraps the signature in one
`tf.function` whose inputs are the signature inputs stacked by dtype and shape:
54 float32 `[batch]` inputs travel as one `[54, batch]` tensor and are unstacked
inside the graph. Inputs that cannot be stacked (different shapes in one request)
take the plain keyword call, which gives the same results.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2

from tfserving.errors import ServingError, code_from_number, invalid_argument

# "{{function_node ...}}" prefixes and " [Op:Name] name:" suffixes of eager errors.
_EAGER_NOISE = re.compile(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:[^\]]*\]( name:\s*\S*)?")


@dataclass(frozen=True)
class _Group:
    """Signature inputs passed together: same dtype and same declared shape."""

    names: tuple[str, ...]
    stacked: bool


def tensor_shape(info: meta_graph_pb2.TensorInfo) -> list[int | None] | None:
    """A TensorInfo's shape for a TensorSpec: None for unknown rank, None per unknown dim."""
    if info.tensor_shape.unknown_rank:
        return None
    return [dim.size if dim.size >= 0 else None for dim in info.tensor_shape.dim]


class SignatureRunner:
    """Calls one signature's function with numpy inputs and returns numpy outputs."""

    def __init__(
        self,
        signature_def: meta_graph_pb2.SignatureDef,
        function: tf.types.experimental.ConcreteFunction,
    ) -> None:
        self._function = function
        grouped: dict[tuple[int, tuple[int, ...]], list[str]] = {}
        unstackable: list[str] = []
        for name in sorted(signature_def.inputs):
            info = signature_def.inputs[name]
            shape = tensor_shape(info)
            if shape is None:
                unstackable.append(name)
            else:
                key = (info.dtype, tuple(-1 if d is None else d for d in shape))
                grouped.setdefault(key, []).append(name)
        groups: list[_Group] = []
        specs: list[tf.TensorSpec] = []
        for (dtype, dims), names in grouped.items():
            shape = [None if d < 0 else d for d in dims]
            stacked = len(names) > 1
            groups.append(_Group(tuple(names), stacked))
            specs.append(
                tf.TensorSpec([len(names), *shape] if stacked else shape, tf.dtypes.as_dtype(dtype))
            )
        for name in unstackable:
            groups.append(_Group((name,), False))
            dtype = tf.dtypes.as_dtype(signature_def.inputs[name].dtype)
            specs.append(tf.TensorSpec(None, dtype))
        self._groups = tuple(groups)

        def packed(*tensors: tf.Tensor) -> dict[str, tf.Tensor]:
            feeds: dict[str, tf.Tensor] = {}
            for group, tensor in zip(self._groups, tensors, strict=True):
                if group.stacked:
                    parts = tf.unstack(tensor, num=len(group.names), axis=0)
                    feeds.update(zip(group.names, parts, strict=True))
                else:
                    feeds[group.names[0]] = tensor
            return function(**feeds)

        self._packed = tf.function(packed, input_signature=specs).get_concrete_function()

    def __call__(
        self, inputs: Mapping[str, np.ndarray], output_names: Sequence[str]
    ) -> dict[str, np.ndarray]:
        """Run with every signature input given; return the requested outputs."""
        args: list[np.ndarray] = []
        for group in self._groups:
            if not group.stacked:
                args.append(inputs[group.names[0]])
                continue
            arrays = [inputs[name] for name in group.names]
            shape = arrays[0].shape
            if any(array.shape != shape for array in arrays):
                return self._call_by_name(inputs, output_names)
            args.append(np.stack(arrays))
        try:
            outputs = self._packed(*args)
        except tf.errors.OpError as error:
            raise runtime_error(error) from error
        return {name: outputs[name].numpy() for name in output_names}

    def _call_by_name(
        self, inputs: Mapping[str, np.ndarray], output_names: Sequence[str]
    ) -> dict[str, np.ndarray]:
        try:
            outputs = self._function(**{name: tf.constant(array) for name, array in inputs.items()})
        except tf.errors.OpError as error:
            raise runtime_error(error) from error
        except (TypeError, ValueError) as error:
            raise invalid_argument(str(error)) from error
        return {name: outputs[name].numpy() for name in output_names}


def runtime_error(error: tf.errors.OpError) -> ServingError:
    """A TensorFlow runtime error with its code and the message without graph noise."""
    kept = []
    message = _EAGER_NOISE.sub("", error.message)
    for line in message.splitlines():
        stripped = line.strip()
        if stripped.startswith("[[") or stripped.startswith("Detected at node"):
            continue
        if stripped in ("", "Graph execution error:", "<stack traces unavailable>"):
            continue
        kept.append(stripped)
    return ServingError(code_from_number(error.error_code), " ".join(kept) or error.message)
