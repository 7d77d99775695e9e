"""TensorProto <-> numpy, without per-element Python work for numeric tensors.

Requests may carry values in `tensor_content` or in the typed repeated fields
(`float_val`, ...); both are read with numpy. Responses are written the way TF
Serving writes them: in the typed fields (TF's `Tensor::AsProtoField`) by
default, or in `tensor_content` (`AsProtoTensorContent`) with
`--enable_serialization_as_tensor_content`. The typed fields are written as their
packed wire encoding built with numpy and merged into the proto in one call: the
bytes a protobuf library would write element by element (a varint field of a few
values, such as a one-row answer's class, is given to protobuf as a list: cheaper
than numpy's fixed cost).
"""

import enum
import math
from dataclasses import dataclass

import numpy as np
from tensorflow.core.framework import tensor_pb2, types_pb2

from tfserving.errors import invalid_argument


class TensorEncoding(enum.Enum):
    """Where output values go: TF Serving's PredictResponseTensorSerializationOption."""

    PROTO_FIELD = "proto_field"
    TENSOR_CONTENT = "tensor_content"


# TensorShape's limit: at most 2**63 - 1 elements.
MAX_ELEMENTS = 2**63 - 1
# The most elements a tensor may have when its typed field holds fewer values (TF fills
# the rest with the last value): 16 MiB of float32.
MAX_FILLED_ELEMENTS = 2**22


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
    DType(types_pb2.DT_COMPLEX64, np.dtype("<c8"), "scomplex_val", "complex64"),
    DType(types_pb2.DT_COMPLEX128, np.dtype("<c16"), "dcomplex_val", "complex128"),
    DType(types_pb2.DT_STRING, np.dtype(object), "string_val", "string"),
)
BY_ENUM: dict[int, DType] = {d.enum: d for d in _DTYPES}
_BY_NUMPY: dict[np.dtype, DType] = {
    d.numpy.newbyteorder("="): d for d in _DTYPES if d.enum != types_pb2.DT_STRING
}
# Typed fields holding values np.fromiter cannot read as the dtype itself: bytes objects,
# halves stored as their bit patterns, complex numbers stored as (real, imaginary) pairs.
_NOT_FROMITER = frozenset(
    (types_pb2.DT_STRING, types_pb2.DT_HALF, types_pb2.DT_COMPLEX64, types_pb2.DT_COMPLEX128)
)
# Typed fields whose packed encoding is the array's own little-endian bytes (fixed32,
# fixed64, and bools: a varint of 0 or 1 is that one byte). The others are varints.
_RAW_PACKED = frozenset(
    (
        types_pb2.DT_FLOAT,
        types_pb2.DT_DOUBLE,
        types_pb2.DT_BOOL,
        types_pb2.DT_COMPLEX64,
        types_pb2.DT_COMPLEX128,
    )
)
_FIELD_NUMBER = {field.name: field.number for field in tensor_pb2.TensorProto.DESCRIPTOR.fields}
_LENGTH_DELIMITED = 2
# Up to this many values, a varint field is filled from a list (the same packed bytes).
MAX_LISTED_VARINTS = 64
_VARINT_GROUPS = np.arange(0, 70, 7, dtype=np.uint64)  # a uint64 varint has at most 10 bytes


def dtype_name(enum: int) -> str:
    """TF's short name of a dtype (`float`, `int64`), or the DT_ enum name."""
    known = BY_ENUM.get(enum)
    if known is not None:
        return known.name
    try:
        return types_pb2.DataType.Name(enum)
    except ValueError:
        return f"dtype {enum}"


def dtype_enum(dtype: np.dtype) -> int | None:
    """The TF dtype enum of a numpy dtype (DT_STRING for bytes and str), None if TF has none."""
    if dtype.kind in "OSU":
        return types_pb2.DT_STRING
    known = _BY_NUMPY.get(dtype.newbyteorder("="))
    return known.enum if known is not None else None


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
    if shape and min(shape) < 0:  # numpy would read -1 as "whatever fits"
        raise invalid_argument(f"input '{name}' has a negative dimension in shape {list(shape)}")
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
    """The general decoder: strings, halves, complex, short value lists, precise errors."""
    count = math.prod(shape)
    if count > MAX_ELEMENTS:
        raise invalid_argument(
            f"input '{name}': shape {list(shape)} has {count} elements, more than {MAX_ELEMENTS}"
        )
    content = proto.tensor_content
    if content:
        if dtype.enum == types_pb2.DT_STRING:
            return _decode_string_list(content, count, name).reshape(shape)
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
    elif dtype.enum in (types_pb2.DT_COMPLEX64, types_pb2.DT_COMPLEX128):
        part = np.dtype("<f4") if dtype.enum == types_pb2.DT_COMPLEX64 else np.dtype("<f8")
        parts = np.fromiter(values, part, len(values))
        if len(parts) % 2:
            raise invalid_argument(f"input '{name}': {dtype.field} must hold (real, imag) pairs")
        flat = parts.view(dtype.numpy)
    else:
        flat = np.fromiter(values, dtype.numpy, len(values))
    if len(flat) == count:
        return flat.reshape(shape)
    if len(flat) > count:
        raise invalid_argument(
            f"input '{name}': {dtype.field} has {len(flat)} values but shape {list(shape)} "
            f"holds {count}"
        )
    # Fewer values than elements: TF repeats the last value (zero if there is none), so a
    # few bytes could ask for gigabytes; filling is bounded (values sent are bounded by the
    # message size already).
    if count > MAX_FILLED_ELEMENTS:
        raise invalid_argument(
            f"input '{name}': {dtype.field} has {len(flat)} values for shape {list(shape)} "
            f"({count} elements); filling a shape by repeating the last value is limited to "
            f"{MAX_FILLED_ELEMENTS} elements: send every value, or use tensor_content"
        )
    fill = flat[-1] if len(flat) else (b"" if dtype.enum == types_pb2.DT_STRING else 0)
    padded = np.full(count, fill, dtype=flat.dtype)
    padded[: len(flat)] = flat
    return padded.reshape(shape)


def _decode_string_list(content: bytes, count: int, name: str) -> np.ndarray:
    """TF's string tensor_content: `count` varint32 lengths, then the strings back to back."""
    lengths = []
    position = 0
    for _ in range(count):
        length = shift = 0
        while True:
            if position >= len(content) or shift > 28:
                raise invalid_argument(f"input '{name}': malformed string tensor_content")
            byte = content[position]
            position += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        lengths.append(length)
    if position + sum(lengths) != len(content):
        raise invalid_argument(f"input '{name}': malformed string tensor_content")
    flat = np.empty(count, dtype=object)
    for index, length in enumerate(lengths):
        flat[index] = content[position : position + length]
        position += length
    return flat


def to_proto(
    array: np.ndarray,
    proto: tensor_pb2.TensorProto | None = None,
    encoding: TensorEncoding = TensorEncoding.PROTO_FIELD,
) -> tensor_pb2.TensorProto:
    """Encode a numpy array (numeric, bool, or bytes/str objects) into `proto` (or a new one)."""
    proto = tensor_pb2.TensorProto() if proto is None else proto
    proto.tensor_shape.SetInParent()  # present even for a scalar, as TF writes it
    for size in array.shape:
        proto.tensor_shape.dim.add().size = size
    if array.dtype.kind in "OSU":
        proto.dtype = types_pb2.DT_STRING
        values = [v if isinstance(v, bytes) else str(v).encode() for v in array.reshape(-1)]
        if encoding is TensorEncoding.TENSOR_CONTENT:
            proto.tensor_content = _encode_string_list(values)
        else:
            proto.string_val.extend(values)
        return proto
    dtype = _BY_NUMPY.get(array.dtype.newbyteorder("="))
    if dtype is None:
        raise invalid_argument(f"cannot encode an output of numpy dtype {array.dtype}")
    proto.dtype = dtype.enum
    values = np.ascontiguousarray(array, dtype=dtype.numpy)
    if encoding is TensorEncoding.TENSOR_CONTENT:
        proto.tensor_content = values.tobytes()
    elif dtype.enum not in _RAW_PACKED and 0 < values.size <= MAX_LISTED_VARINTS:
        # A few varints: protobuf packs a Python list faster than numpy can.
        listed = values.view(np.uint16) if dtype.enum == types_pb2.DT_HALF else values
        getattr(proto, dtype.field).extend(listed.reshape(-1).tolist())
    elif values.size:
        proto.MergeFromString(_packed_field(dtype, values))
    return proto


def _packed_field(dtype: DType, values: np.ndarray) -> bytes:
    """The wire bytes of `dtype`'s typed field holding `values`, packed."""
    if dtype.enum in _RAW_PACKED:
        payload = values.tobytes()
    else:
        if dtype.enum == types_pb2.DT_HALF:
            as_int = values.view(np.uint16).astype(np.uint64)
        else:
            # Negative ints (int32 fields too) are sign-extended to 64 bits, as protobuf does.
            wide = np.int64 if values.dtype.kind == "i" else np.uint64
            as_int = values.astype(wide, copy=False).view(np.uint64)
        payload = _varints(as_int.reshape(-1))
    tag = (_FIELD_NUMBER[dtype.field] << 3) | _LENGTH_DELIMITED
    return _varint(tag) + _varint(len(payload)) + payload


def _varints(values: np.ndarray) -> bytes:
    """Base-128 varints of uint64 values, concatenated (vectorized)."""
    groups = ((values[:, None] >> _VARINT_GROUPS) & np.uint64(0x7F)).astype(np.uint8)
    sizes = 1 + np.count_nonzero(values[:, None] >> _VARINT_GROUPS[1:], axis=1)
    position = np.arange(len(_VARINT_GROUPS))
    groups[position < (sizes - 1)[:, None]] |= 0x80
    return groups[position < sizes[:, None]].tobytes()


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _encode_string_list(values: list[bytes]) -> bytes:
    """TF's EncodeStringList: every length as a varint32, then every string."""
    return b"".join([_varint(len(v)) for v in values] + values)
