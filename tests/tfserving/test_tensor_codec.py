"""Tensors on the wire: TF Serving's typed fields by default, tensor_content on request.

The typed fields are written from numpy as packed bytes (a few varints through
protobuf's own list); these tests check them against protobuf's encoding of the same
values, element by element.
"""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2

from tfserving.errors import ServingError
from tfserving.servables.tensor_codec import (
    MAX_LISTED_VARINTS,
    TensorEncoding,
    to_ndarray,
    to_proto,
)

ARRAYS = [
    np.array([[1.5, -2.0], [3.0, np.inf]], np.float32),
    np.array([1e300, -0.0], np.float64),
    np.array([-1, 0, 2**31 - 1, -(2**31)], np.int32),
    np.array([-5, 127], np.int8),
    np.array([-300, 300], np.int16),
    np.array([0, 255], np.uint8),
    np.array([65535, 0], np.uint16),
    np.array([2**63 - 1, -(2**63), -1, 0, 300], np.int64),
    np.array([2**32 - 1, 5], np.uint32),
    np.array([2**64 - 1, 0], np.uint64),
    np.array([True, False, True]),
    np.array([1.5, -0.0, np.inf], np.float16),
    np.array([1 + 2j, -3j], np.complex64),
    np.array([[1 + 2j]], np.complex128),
    np.array(7.0, np.float32),
]
# Varint fields past the size filled from a list are written by the numpy encoder.
MANY = 3 * MAX_LISTED_VARINTS
ARRAYS += [
    np.concatenate([[2**63 - 1, -(2**63)], np.arange(-MANY, MANY) * 997]).astype(np.int64),
    (np.arange(MANY) * 40_000_000 - 2**31).astype(np.int32).reshape(3, -1),
    np.arange(MANY, dtype=np.uint64) << np.uint64(50),
    np.linspace(-70_000, 70_000, MANY).astype(np.float16),
]
IDS = [str(a.dtype) + str(list(a.shape)) for a in ARRAYS]


def element_by_element(array: np.ndarray) -> tensor_pb2.TensorProto:
    """What protobuf writes when each value is appended to the typed field."""
    reference = tf.make_tensor_proto(array)
    proto = tensor_pb2.TensorProto(dtype=reference.dtype, tensor_shape=reference.tensor_shape)
    field = {
        np.float16: "half_val",
        np.complex64: "scomplex_val",
        np.complex128: "dcomplex_val",
    }.get(array.dtype.type)
    values = array.reshape(-1)
    if field == "half_val":
        getattr(proto, field).extend(values.view(np.uint16).tolist())
    elif field is not None:
        getattr(proto, field).extend(values.view(values.real.dtype).tolist())
    else:
        field = {
            np.float32: "float_val",
            np.float64: "double_val",
            np.int64: "int64_val",
            np.uint64: "uint64_val",
            np.uint32: "uint32_val",
            np.bool_: "bool_val",
        }.get(array.dtype.type, "int_val")
        getattr(proto, field).extend(values.tolist())
    return proto


@pytest.mark.parametrize("array", ARRAYS, ids=IDS)
def test_typed_fields_are_what_protobuf_writes(array: np.ndarray) -> None:
    ours = to_proto(array)
    assert not ours.tensor_content
    assert ours.SerializeToString() == element_by_element(array).SerializeToString()
    assert np.array_equal(tf.make_ndarray(ours), array)


@pytest.mark.parametrize("array", ARRAYS, ids=IDS)
def test_tensor_content_holds_the_little_endian_values(array: np.ndarray) -> None:
    ours = to_proto(array, encoding=TensorEncoding.TENSOR_CONTENT)
    assert ours.tensor_content == array.astype(array.dtype.newbyteorder("<")).tobytes()
    assert np.array_equal(tf.make_ndarray(ours), array)
    assert np.array_equal(to_ndarray(ours, "x"), array)


def test_strings_round_trip_in_both_encodings() -> None:
    strings = np.array([[b"ab", b""], ["é".encode(), b"\x00" * 300]], dtype=object)
    typed = to_proto(strings)
    assert list(typed.string_val) == strings.reshape(-1).tolist()
    content = to_proto(strings, encoding=TensorEncoding.TENSOR_CONTENT)
    assert not content.string_val
    decoded = to_ndarray(tensor_pb2.TensorProto.FromString(content.SerializeToString()), "s")
    assert decoded.tolist() == strings.tolist()


def test_empty_tensors_have_a_shape_and_no_values() -> None:
    proto = to_proto(np.zeros((0, 3), np.float32))
    assert [d.size for d in proto.tensor_shape.dim] == [0, 3]
    assert not proto.float_val and not proto.tensor_content


def test_malformed_string_content_names_the_input() -> None:
    proto = tensor_pb2.TensorProto(dtype=tf.string.as_datatype_enum, tensor_content=b"\x05ab")
    proto.tensor_shape.dim.add().size = 1
    with pytest.raises(ServingError, match="input 's': malformed string tensor_content"):
        to_ndarray(proto, "s")
