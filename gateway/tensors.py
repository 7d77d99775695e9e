"""TensorProto encoding and decoding for the few dtypes the gateway exchanges, without numpy.

Requests use `tensor_content` (one little-endian byte string for the whole tensor:
one copy, no per-element protobuf work). Responses may use either `tensor_content`
or the typed `*_val` fields, as TF Serving and other servers both do.
"""

import struct
from collections.abc import Sequence

from protos.slim import tensor_pb2, types_pb2

# dtype -> (struct format char, name of the typed repeated field)
_LAYOUTS: dict[int, tuple[str, str]] = {
    types_pb2.DT_FLOAT: ("f", "float_val"),
    types_pb2.DT_DOUBLE: ("d", "double_val"),
    types_pb2.DT_INT32: ("i", "int_val"),
    types_pb2.DT_INT64: ("q", "int64_val"),
}


class TensorDecodeError(ValueError):
    """A tensor's dtype, shape or content is not what the caller can read."""


def float_matrix(rows: Sequence[Sequence[float]], width: int) -> tensor_pb2.TensorProto:
    """A DT_FLOAT `[len(rows), width]` tensor holding `rows` in `tensor_content`."""
    flat = [value for row in rows for value in row]
    if len(flat) != len(rows) * width:
        raise ValueError(f"every row must have {width} values")
    tensor = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_FLOAT, tensor_content=struct.pack(f"<{len(flat)}f", *flat)
    )
    tensor.tensor_shape.dim.add().size = len(rows)
    tensor.tensor_shape.dim.add().size = width
    return tensor


def shape_of(tensor: tensor_pb2.TensorProto) -> tuple[int, ...]:
    """The tensor's dimensions."""
    return tuple(dim.size for dim in tensor.tensor_shape.dim)


def flat_values(tensor: tensor_pb2.TensorProto) -> list[float] | list[int]:
    """All elements in row-major order, from `tensor_content` or the typed field.

    A typed field holding a single value for a larger shape is broadcast, as TF does.
    """
    layout = _LAYOUTS.get(tensor.dtype)
    if layout is None:
        raise TensorDecodeError(f"unsupported dtype {_dtype_name(tensor.dtype)}")
    code, typed_field = layout
    count = 1
    for size in shape_of(tensor):
        if size < 0:
            raise TensorDecodeError(f"tensor shape {shape_of(tensor)} has an unknown dimension")
        count *= size
    if tensor.tensor_content:
        expected = count * struct.calcsize(code)
        if len(tensor.tensor_content) != expected:
            raise TensorDecodeError(
                f"tensor_content has {len(tensor.tensor_content)} bytes, "
                f"shape {shape_of(tensor)} needs {expected}"
            )
        return list(struct.unpack(f"<{count}{code}", tensor.tensor_content))
    values = list(getattr(tensor, typed_field))
    if len(values) == 1 and count > 1:
        return values * count
    if len(values) != count:
        raise TensorDecodeError(
            f"{typed_field} has {len(values)} values, shape {shape_of(tensor)} needs {count}"
        )
    return values


def _dtype_name(dtype: int) -> str:
    """`DT_STRING` for 7; the bare number for dtypes the slim enum does not list."""
    try:
        return types_pb2.DataType.Name(dtype)
    except ValueError:
        return str(dtype)
