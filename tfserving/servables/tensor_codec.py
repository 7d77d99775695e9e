"""TensorProto <-> numpy, without per-element Python work for numeric tensors.

Requests may carry values in `tensor_content` (one byte string) or in the typed
repeated fields (`float_val`, ...); both are read with numpy. Responses use
`tensor_content`, which TF's `make_ndarray` and every TensorProto reader accept
(TF Serving itself fills the typed fields; the decoded tensor is identical).
"""

import math
from dataclasses import dataclass

import numpy as np
from tensorflow.core.framework import tensor_pb2, types_pb2

from tfserving.errors import invalid_argument


@dataclass(frozen=True)
class DType:
    """How one TF dtype is held in numpy and in a TensorProto."""

    enum: int
    numpy: np.dtype
    field: str
    name: str


_DTYPES = (
    DType(types_pb2.DT_FLOAT, np.dtype("<f4"), "float_val", "float"),
    DType(types_pb2.DT_DOUBLE, np.dtype("<f8"), "double_val", "double"),
    DType(types_pb2.DT_HALF, np.dtype("<f2"), "half_val", "half"),
    DType(types_pb2.DT_INT8, np.dtype("i1"), "int_val", "int8"),
    DType(types_pb2.DT_INT16, np.dtype("<i2"), "int_val", "int16"),
    DType(types_pb2.DT_INT32, np.dtype("<i4"), "int_val", "int32"),
    DType(types_pb2.DT_INT64, np.dtype("<i8"), "int64_val", "int64"),
    DType(types_pb2.DT_UINT8, np.dtype("u1"), "int_val", "uint8"),
    DType(types_pb2.DT_UINT16, np.dtype("<u2"), "int_val", "uint16"),
    DType(types_pb2.DT_UINT32, np.dtype("<u4"), "uint32_val", "uint32"),
    DType(types_pb2.DT_UINT64, np.dtype("<u8"), "uint64_val", "uint64"),
    DType(types_pb2.DT_BOOL, np.dtype("?"), "bool_val", "bool"),
    DType(types_pb2.DT_STRING, np.dtype(object), "string_val", "string"),
)
BY_ENUM: dict[int, DType] = {d.enum: d for d in _DTYPES}
# Typed fields np.fromiter cannot read directly (bytes objects; halves stored as ints).
_NOT_FROMITER = frozenset((types_pb2.DT_STRING, types_pb2.DT_HALF))
_BY_NUMPY: dict[np.dtype, DType] = {
    d.numpy.newbyteorder("="): d for d in _DTYPES if d.enum != types_pb2.DT_STRING
}


def dtype_name(enum: int) -> str:
    """TF's short name of a dtype (`float`, `int64`), or the DT_ enum name."""
    known = BY_ENUM.get(enum)
    if known is not None:
        return known.name
    try:
        return types_pb2.DataType.Name(enum)
    except ValueError:
        return f"dtype {enum}"


def to_ndarray(proto: tensor_pb2.TensorProto, name: str, dtype: DType | None = None) -> np.ndarray:
    """Decode a TensorProto; INVALID_ARGUMENT naming `name` if it is malformed.

    `dtype` (the proto's, looked up by the caller) saves a lookup on the hot path,
    which is kept to a few attribute reads and one numpy call per tensor.
    """
    dtype = dtype or BY_ENUM.get(proto.dtype)
    if dtype is None:
        raise invalid_argument(f"input '{name}' has unsupported dtype {dtype_name(proto.dtype)}")
    tensor_shape = proto.tensor_shape
    if tensor_shape.unknown_rank:
        raise invalid_argument(f"input '{name}' must have a known shape")
    dims = tensor_shape.dim
    shape = (dims[0].size,) if len(dims) == 1 else tuple([dim.size for dim in dims])
    content = proto.tensor_content
    try:
        if content and dtype.enum != types_pb2.DT_STRING:
            return np.frombuffer(content, dtype=dtype.numpy).reshape(shape)
        if not content and dtype.enum not in _NOT_FROMITER:
            values = getattr(proto, dtype.field)
            return np.fromiter(values, dtype.numpy, len(values)).reshape(shape)
    except ValueError:
        pass
    return _to_ndarray_checked(proto, name, dtype, shape)


def _to_ndarray_checked(
    proto: tensor_pb2.TensorProto, name: str, dtype: DType, shape: tuple[int, ...]
) -> np.ndarray:
    """The general decoder: strings, halves, short value lists, and precise errors."""
    if shape and min(shape) < 0:
        raise invalid_argument(f"input '{name}' has a negative dimension in shape {list(shape)}")
    count = math.prod(shape)
    content = proto.tensor_content
    if content:
        if dtype.enum == types_pb2.DT_STRING:
            raise invalid_argument(f"input '{name}': string tensors must use string_val")
        raise invalid_argument(
            f"input '{name}': tensor_content has {len(content)} bytes but "
            f"{dtype.name} shape {list(shape)} needs {count * dtype.numpy.itemsize}"
        )
    values = getattr(proto, dtype.field)
    if dtype.enum == types_pb2.DT_STRING:
        flat = np.empty(len(values), dtype=object)
        flat[:] = list(values)
    elif dtype.enum == types_pb2.DT_HALF:
        flat = np.fromiter(values, np.uint16, len(values)).view(np.float16)
    else:
        flat = np.fromiter(values, dtype.numpy, len(values))
    if len(flat) == count:
        return flat.reshape(shape)
    if len(flat) > count:
        raise invalid_argument(
            f"input '{name}': {dtype.field} has {len(flat)} values but shape {list(shape)} "
            f"holds {count}"
        )
    # Fewer values than elements: TF repeats the last value (zero if there is none).
    fill = flat[-1] if len(flat) else (b"" if dtype.enum == types_pb2.DT_STRING else 0)
    padded = np.full(count, fill, dtype=flat.dtype)
    padded[: len(flat)] = flat
    return padded.reshape(shape)


def to_proto(
    array: np.ndarray, proto: tensor_pb2.TensorProto | None = None
) -> tensor_pb2.TensorProto:
    """Encode a numpy array (numeric, bool, or bytes/str objects) into `proto` (or a new one)."""
    proto = tensor_pb2.TensorProto() if proto is None else proto
    for size in array.shape:
        proto.tensor_shape.dim.add().size = size
    if array.dtype.kind in "OSU":
        proto.dtype = types_pb2.DT_STRING
        proto.string_val.extend(
            v if isinstance(v, bytes) else str(v).encode() for v in array.reshape(-1)
        )
        return proto
    dtype = _BY_NUMPY.get(array.dtype.newbyteorder("="))
    if dtype is None:
        raise invalid_argument(f"cannot encode an output of numpy dtype {array.dtype}")
    proto.dtype = dtype.enum
    proto.tensor_content = np.ascontiguousarray(array, dtype=dtype.numpy).tobytes()
    return proto
