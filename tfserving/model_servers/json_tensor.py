"""JSON <-> tensors for the REST API, following TF Serving's json_tensor.cc.

Requests: `{"signature_name": ..., "instances": [...]}` (row format: one entry per
example, objects keyed by input name when the signature has several inputs) or
`{"inputs": ...}` (columnar: one value, or an object of named tensors). Values
must match the input's dtype exactly (a JSON `true` is not a float, `1.5` is not
an int32); binary strings are `{"b64": "..."}`. Responses mirror the request:
`predictions` (a list per row) or `outputs`; NaN and Infinity are written as the
bare tokens, as TF Serving does.
"""

import base64
import binascii
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from tensorflow.core.example import example_pb2, feature_pb2
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import classification_pb2, input_pb2, regression_pb2

from tfserving.errors import ServingError, invalid_argument
from tfserving.servables.tensor_codec import BY_ENUM, DType, dtype_name

ROW = "row"
COLUMNAR = "columnar"
_FLOAT32_MAX_INT = 2**24 - 1
_FLOAT64_MAX_INT = 2**53 - 1
_INT_RANGES = {
    types_pb2.DT_INT8: (-(2**7), 2**7 - 1),
    types_pb2.DT_INT16: (-(2**15), 2**15 - 1),
    types_pb2.DT_INT32: (-(2**31), 2**31 - 1),
    types_pb2.DT_UINT8: (0, 2**8 - 1),
    types_pb2.DT_UINT16: (0, 2**16 - 1),
    types_pb2.DT_INT64: (-(2**63), 2**63 - 1),
    types_pb2.DT_UINT32: (0, 2**32 - 1),
    types_pb2.DT_UINT64: (0, 2**64 - 1),
}
_FLOATS = (types_pb2.DT_FLOAT, types_pb2.DT_DOUBLE, types_pb2.DT_HALF)


def parse_json(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object (NaN and Infinity tokens allowed)."""
    if not body:
        raise invalid_argument("JSON Parse error: The document is empty")
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise invalid_argument(f"JSON Parse error: {error}") from error
    except RecursionError as error:
        raise invalid_argument("JSON Parse error: the document is nested too deeply") from error
    if not isinstance(document, dict):
        raise invalid_argument(f"JSON Value: {_show(document)} Is not object")
    return document


def signature_name_of(document: Mapping[str, Any]) -> str:
    """The optional `signature_name` (empty when absent)."""
    name = document.get("signature_name", "")
    if not isinstance(name, str):
        raise invalid_argument(
            f"JSON Value: {_show(document)} not formatted correctly. 'signature_name' key "
            "must be a string value."
        )
    return name


def predict_inputs(
    document: Mapping[str, Any], signature: meta_graph_pb2.SignatureDef
) -> tuple[dict[str, np.ndarray], str]:
    """The named input arrays of a predict request, and its format (row or columnar)."""
    infos = dict(signature.inputs)
    if not infos:
        raise invalid_argument("Failed to get input map for signature")
    if "instances" in document and "inputs" in document:
        raise invalid_argument(
            f"JSON Value: {_show(document)} Not formatted correctly expecting only one of "
            "'inputs' or 'instances' keys to exist "
        )
    if "instances" in document:
        return _from_instances(document["instances"], infos, document), ROW
    if "inputs" in document:
        return _from_inputs(document["inputs"], infos), COLUMNAR
    raise invalid_argument("Missing 'inputs' or 'instances' key")


def predict_response(outputs: Mapping[str, np.ndarray], request_format: str) -> bytes:
    """The JSON body answering a predict request in `request_format`."""
    if not outputs:
        raise invalid_argument("Cannot convert empty tensor map to JSON")
    values = {name: _jsonable(name, array) for name, array in outputs.items()}
    if request_format == COLUMNAR:
        body: dict[str, Any] = {
            "outputs": next(iter(values.values())) if len(values) == 1 else values
        }
        return dump(body)
    batch_size = None
    for name, array in outputs.items():
        if array.ndim == 0:
            raise invalid_argument(f"Tensor name: {name} has no shape information ")
        if batch_size is not None and array.shape[0] != batch_size:
            raise invalid_argument(
                f"Tensor name: {name} has inconsistent batch size: {array.shape[0]} "
                f"expecting: {batch_size}"
            )
        batch_size = array.shape[0]
    if len(values) == 1:
        return dump({"predictions": next(iter(values.values()))})
    rows = [{name: value[i] for name, value in values.items()} for i in range(batch_size or 0)]
    return dump({"predictions": rows})


def error_body(message: str) -> bytes:
    """TF Serving's error object."""
    return dump({"error": message})


# -- requests -----------------------------------------------------------------------------


def _is_b64(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def _is_named_object(value: Any) -> bool:
    return isinstance(value, dict) and not _is_b64(value)


def _from_instances(
    instances: Any, infos: Mapping[str, meta_graph_pb2.TensorInfo], document: Mapping[str, Any]
) -> dict[str, np.ndarray]:
    if not isinstance(instances, list):
        raise invalid_argument(
            f"JSON Value: {_show(document)} Excepting 'instances' to be an list/array"
        )
    if not instances:
        raise invalid_argument(f"JSON Value: {_show(document)} No values in 'instances' array")
    named = _is_named_object(instances[0])
    if not named and len(infos) > 1:
        raise invalid_argument(
            "instances is a plain list, but expecting list of objects as multiple input "
            "tensors required as per tensorinfo_map"
        )
    columns: dict[str, list[Any]] = {}
    shapes: dict[str, list[int]] = {}
    for index, element in enumerate(instances):
        if named:
            if not _is_named_object(element):
                raise invalid_argument(
                    f"Expecting object but got list at item {index} of input list"
                )
            for name, value in element.items():
                try:
                    _add_item(name, value, infos, columns, shapes)
                except ServingError as error:
                    raise invalid_argument(
                        f"Failed to process element: {index} key: {name} of 'instances' list. "
                        f"Error: {error}"
                    ) from error
            if set(element) != set(infos):
                raise invalid_argument(
                    f"Failed to process element: {index} of 'instances' list. JSON object: "
                    f"{_show(element)} keys must be equal to: {','.join(sorted(infos))}"
                )
        else:
            if _is_named_object(element):
                raise invalid_argument(
                    f"Expecting value/list but got object at item {index} of input list"
                )
            name = next(iter(infos))
            try:
                _add_item(name, element, infos, columns, shapes)
            except ServingError as error:
                raise invalid_argument(
                    f"Failed to process element: {index} of 'instances' list. Error: {error}"
                ) from error
    return {
        name: _array(values, BY_ENUM[infos[name].dtype], [len(instances), *shapes[name]])
        for name, values in columns.items()
    }


def _add_item(
    name: str,
    value: Any,
    infos: Mapping[str, meta_graph_pb2.TensorInfo],
    columns: dict[str, list[Any]],
    shapes: dict[str, list[int]],
) -> None:
    info = infos.get(name)
    if info is None:
        raise invalid_argument(f"JSON object: does not have named input: {name}")
    shape = _dense_shape(value)
    flat: list[Any] = []
    _flatten(value, shape, 0, _leaf_reader(info.dtype), flat)
    if name not in shapes:
        shapes[name] = shape
        columns[name] = flat
        return
    if len(flat) != _size(shapes[name]):
        raise invalid_argument(f"Expecting tensor size: {_size(shapes[name])} but got: {len(flat)}")
    if shape != shapes[name]:
        raise invalid_argument(
            f"Expecting shape {_shape_text(shapes[name])} but got: {_shape_text(shape)}"
        )
    columns[name].extend(flat)


def _from_inputs(
    value: Any, infos: Mapping[str, meta_graph_pb2.TensorInfo]
) -> dict[str, np.ndarray]:
    if not _is_named_object(value):
        if len(infos) > 1:
            raise invalid_argument(
                "inputs is a plain value/list, but expecting an object as multiple input "
                "tensors required as per tensorinfo_map"
            )
        name, info = next(iter(infos.items()))
        return {name: _tensor(value, info)}
    tensors = {}
    for name, info in infos.items():
        if name not in value:
            raise invalid_argument(f"Missing named input: {name} in 'inputs' object.")
        tensors[name] = _tensor(value[name], info)
    return tensors


def _tensor(value: Any, info: meta_graph_pb2.TensorInfo) -> np.ndarray:
    dtype = BY_ENUM.get(info.dtype)
    if dtype is None:
        raise invalid_argument(f"Conversion of JSON Value to type: {dtype_name(info.dtype)}")
    shape = _dense_shape(value)
    flat: list[Any] = []
    _flatten(value, shape, 0, _leaf_reader(info.dtype), flat)
    return _array(flat, dtype, shape)


def _dense_shape(value: Any) -> list[int]:
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _flatten(
    value: Any, shape: list[int], level: int, read: Callable[[Any], Any], out: list[Any]
) -> None:
    if isinstance(value, list):
        if level >= len(shape):
            raise invalid_argument(
                f"Encountered list at unexpected level: {level} expected < {len(shape)}"
            )
        if len(value) != shape[level]:
            raise invalid_argument(
                f"Encountered list at unexpected size: {len(value)} at level: {level} "
                f"expected size: {shape[level]}"
            )
        if level == len(shape) - 1:
            out.extend(read(v) for v in value)
        else:
            for v in value:
                _flatten(v, shape, level + 1, read, out)
        return
    if level != len(shape):
        raise invalid_argument(
            f"JSON Value: {_show(value)} found at incorrect level: {level + 1} in the JSON DOM. "
            f"Expected at level: {len(shape)}"
        )
    out.append(read(value))


def _leaf_reader(dtype: int) -> Callable[[Any], Any]:
    """A function that checks one JSON leaf against `dtype` and returns its value."""
    if dtype in _FLOATS:
        limit = _FLOAT64_MAX_INT if dtype == types_pb2.DT_DOUBLE else _FLOAT32_MAX_INT
        target = "double" if dtype == types_pb2.DT_DOUBLE else "float"
        largest = float(np.finfo(np.float64 if dtype == types_pb2.DT_DOUBLE else np.float32).max)

        def read_float(value: Any) -> Any:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _type_error(value, dtype)
            if isinstance(value, int):
                if abs(value) > limit:
                    raise _lossy(value, target)
            elif math.isfinite(value) and abs(value) > largest:
                raise _lossy(value, target)
            return value

        return read_float
    if dtype in _INT_RANGES:
        low, high = _INT_RANGES[dtype]

        def read_int(value: Any) -> Any:
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise _type_error(value, dtype)
            return value

        return read_int
    if dtype == types_pb2.DT_BOOL:

        def read_bool(value: Any) -> Any:
            if not isinstance(value, bool):
                raise _type_error(value, dtype)
            return value

        return read_bool
    if dtype == types_pb2.DT_STRING:

        def read_string(value: Any) -> bytes:
            if isinstance(value, str):
                return value.encode()
            if isinstance(value, dict):
                if not _is_b64(value):
                    raise invalid_argument(
                        f"JSON Value: {_show(value)} not formatted correctly for base64 data"
                    )
                try:
                    return base64.b64decode(value["b64"], validate=True)
                except (binascii.Error, ValueError) as error:
                    raise invalid_argument("Unable to base64 decode") from error
            raise _type_error(value, dtype)

        return read_string
    raise invalid_argument(
        f"Conversion of JSON Value to type: {dtype_name(dtype)} is not supported"
    )


def _array(values: list[Any], dtype: DType, shape: Sequence[int]) -> np.ndarray:
    if dtype.enum == types_pb2.DT_STRING:
        array = np.empty(len(values), dtype=object)
        array[:] = values
    else:
        array = np.array(values, dtype=dtype.numpy)
    return array.reshape(shape)


def _type_error(value: Any, dtype: int) -> ServingError:
    return invalid_argument(
        f"JSON Value: {_show(value)} Type: {_json_type(value)} is not of expected type: "
        f"{dtype_name(dtype)}"
    )


def _lossy(value: Any, target: str) -> ServingError:
    return invalid_argument(
        f"Cannot convert JSON value: {_show(value)} to {target} without loss of precision."
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, str):
        return "String"
    return "Number"


def _size(shape: Sequence[int]) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _shape_text(shape: Sequence[int]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _show(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, allow_nan=True)
    return text if len(text) <= limit else text[:limit] + "..."


# -- responses ----------------------------------------------------------------------------


def _jsonable(name: str, array: np.ndarray) -> Any:
    """Nested lists for JSON; strings as text, or as {"b64": ...} for `*_bytes` outputs."""
    if array.dtype.kind not in "OSU":
        return array.tolist()
    to_json = _base64_object if name.endswith("_bytes") else _text
    converted = np.empty(array.shape, dtype=object)
    for index, value in np.ndenumerate(array):
        converted[index] = to_json(value)
    return converted.tolist()


def _base64_object(value: Any) -> dict[str, str]:
    return {"b64": base64.b64encode(_bytes(value)).decode()}


def _text(value: Any) -> str:
    return _bytes(value).decode("utf-8", "replace")


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def dump(body: Any) -> bytes:
    """JSON bytes; NaN and Infinity as bare tokens, as TF Serving writes them."""
    return json.dumps(body, allow_nan=True).encode()


# -- classify and regress -----------------------------------------------------------------


def classify_regress_input(document: Mapping[str, Any], api: str) -> input_pb2.Input:
    """The tf.Examples of a classify/regress request (`examples`, optional `context`)."""
    request_input = input_pb2.Input()
    context = document.get("context")
    if context is not None:
        with_context = request_input.example_list_with_context
        _fill_example(context, with_context.context)
    examples = document.get("examples")
    if examples is None:
        raise invalid_argument(
            f"JSON Value: {_show(document)} When method is {api}, key 'examples' is expected "
            "and was not found"
        )
    if not isinstance(examples, list):
        raise invalid_argument(
            f"JSON Value: {_show(document)} Expecting 'examples' value to be an list/array"
        )
    if not examples:
        raise invalid_argument(f"JSON Value: {_show(document)} 'examples' value is an empty array")
    for example in examples:
        target = (
            request_input.example_list_with_context.examples.add()
            if context is not None
            else request_input.example_list.examples.add()
        )
        _fill_example(example, target)
    return request_input


def classification_response(result: classification_pb2.ClassificationResult) -> bytes:
    """`{"results": [[[label, score], ...], ...]}`."""
    if not result.classifications:
        raise invalid_argument("Cannot convert empty ClassificationResults to JSON")
    return dump(
        {
            "results": [
                [[entry.label, entry.score] for entry in classifications.classes]
                for classifications in result.classifications
            ]
        }
    )


def regression_response(result: regression_pb2.RegressionResult) -> bytes:
    """`{"results": [value, ...]}`."""
    if not result.regressions:
        raise invalid_argument("Cannot convert empty RegressionResults to JSON")
    return dump({"results": [regression.value for regression in result.regressions]})


def _fill_example(value: Any, example: example_pb2.Example) -> None:
    if not isinstance(value, dict):
        raise invalid_argument(f"Example must be JSON object but got JSON {_json_type(value)}")
    for name, content in value.items():
        feature = example.features.feature[name]
        for item in content if isinstance(content, list) else [content]:
            _add_feature_value(name, item, feature)


def _add_feature_value(name: str, value: Any, feature: feature_pb2.Feature) -> None:
    kind = feature.WhichOneof("kind")
    if isinstance(value, bool) or (isinstance(value, int) and not isinstance(value, bool)):
        wanted = "int64_list"
    elif isinstance(value, float):
        wanted = "float_list"
    elif isinstance(value, str) or _is_b64(value):
        wanted = "bytes_list"
    else:
        raise invalid_argument(
            f"Feature: {name} has element with unexpected JSON type: {_json_type(value)}"
        )
    if kind is not None and kind != wanted:
        raise invalid_argument(
            f"Unexpected element type in feature: {name} expecting type: {kind.split('_')[0]}"
        )
    if wanted == "int64_list":
        if not isinstance(value, bool) and not -(2**63) <= value < 2**63:
            raise invalid_argument(f"Feature: {name} has uint64 element. Only int64 is supported.")
        feature.int64_list.value.append(int(value))
    elif wanted == "float_list":
        if math.isfinite(value) and abs(value) > float(np.finfo(np.float32).max):
            raise _lossy(value, "float")
        feature.float_list.value.append(value)
    else:
        feature.bytes_list.value.append(_leaf_reader(types_pb2.DT_STRING)(value))
