"""REST JSON <-> tensors: TF Serving's row and columnar formats and its errors."""

import json

import numpy as np
import pytest
from google.protobuf import text_format
from tensorflow.core.protobuf import meta_graph_pb2

from tfserving.errors import ServingError
from tfserving.model_servers import json_tensor


def signature(text: str) -> meta_graph_pb2.SignatureDef:
    return text_format.Parse(text, meta_graph_pb2.SignatureDef())


def input_text(name: str, dtype: str, dims: list[int]) -> str:
    shape = "".join(f"dim {{ size: {d} }}" for d in dims)
    return f'inputs {{ key: "{name}" value {{ dtype: {dtype} tensor_shape {{ {shape} }} }} }}'


MATRIX = signature(input_text("features", "DT_FLOAT", [-1, 3]))
NAMED = signature(
    input_text("a", "DT_FLOAT", [-1])
    + input_text("b", "DT_INT64", [-1])
    + input_text("text", "DT_STRING", [-1])
)


def parse(document: dict, sig: meta_graph_pb2.SignatureDef) -> tuple[dict, str]:
    return json_tensor.predict_inputs(document, sig)


def error_of(document: dict, sig: meta_graph_pb2.SignatureDef) -> str:
    with pytest.raises(ServingError) as raised:
        parse(document, sig)
    return raised.value.message


def test_row_format_single_input() -> None:
    inputs, request_format = parse({"instances": [[1, 2, 3], [4.5, 5, 6]]}, MATRIX)
    assert request_format == json_tensor.ROW
    assert inputs["features"].dtype == np.float32
    np.testing.assert_array_equal(inputs["features"], [[1, 2, 3], [4.5, 5, 6]])


def test_row_format_named_inputs_and_base64() -> None:
    inputs, _ = parse(
        {
            "instances": [
                {"a": 1.5, "b": 2, "text": "x"},
                {"a": -1, "b": 3, "text": {"b64": "aGk="}},
            ]
        },
        NAMED,
    )
    np.testing.assert_array_equal(inputs["a"], np.float32([1.5, -1]))
    np.testing.assert_array_equal(inputs["b"], np.int64([2, 3]))
    assert list(inputs["text"]) == [b"x", b"hi"]


def test_columnar_format() -> None:
    inputs, request_format = parse({"inputs": {"a": [1], "b": [2], "text": ["t"]}}, NAMED)
    assert request_format == json_tensor.COLUMNAR
    assert inputs["b"].dtype == np.int64
    single, _ = parse({"inputs": [[1, 2, 3]]}, MATRIX)
    assert single["features"].shape == (1, 3)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({}, "Missing 'inputs' or 'instances' key"),
        ({"instances": [], "inputs": []}, "expecting only one of 'inputs' or 'instances'"),
        ({"instances": {}}, "Excepting 'instances' to be an list/array"),
        ({"instances": []}, "No values in 'instances' array"),
        ({"instances": [[1, 2, 3], [1, 2]]}, "Expecting tensor size: 3 but got: 2"),
        ({"instances": [[1, 2, 3], [[1, 2, 3]]]}, "Expecting shape [3] but got: [1,3]"),
        (
            {"instances": [[1, "2", 3]]},
            'JSON Value: "2" Type: String is not of expected type: float',
        ),
        ({"instances": [[1, True, 3]]}, "Type: True is not of expected type: float"),
        ({"instances": [[1, 2, 16777217]]}, "without loss of precision"),
        ({"instances": [[1, 2, None]]}, "Type: Null is not of expected type: float"),
        ({"inputs": [[1, 2], [3]]}, "Encountered list at unexpected size: 1 at level: 1"),
    ],
)
def test_malformed_matrix_requests(document: dict, message: str) -> None:
    assert message in error_of(document, MATRIX)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"instances": [1, 2]}, "instances is a plain list, but expecting list of objects"),
        ({"instances": [{"a": 1, "b": 2}]}, "keys must be equal to: a,b,text"),
        (
            {"instances": [{"a": 1, "b": 2, "text": "t", "c": 1}]},
            "JSON object: does not have named input: c",
        ),
        (
            {"instances": [{"a": 1, "b": 2.5, "text": "t"}]},
            "Type: Number is not of expected type: int64",
        ),
        ({"inputs": {"a": [1], "b": [2]}}, "Missing named input: text in 'inputs' object."),
        ({"inputs": [1]}, "inputs is a plain value/list, but expecting an object"),
        ({"inputs": {"a": [1], "b": [2], "text": [{"b64": "%%"}]}}, "Unable to base64 decode"),
    ],
)
def test_malformed_named_requests(document: dict, message: str) -> None:
    assert message in error_of(document, NAMED)


def test_responses_mirror_the_request_format() -> None:
    outputs = {"cover_type": np.int64([3, 1]), "probabilities": np.float32([[0.5, 0.5], [1, 0]])}
    rows = json.loads(json_tensor.predict_response(outputs, json_tensor.ROW))
    assert rows == {
        "predictions": [
            {"cover_type": 3, "probabilities": [0.5, 0.5]},
            {"cover_type": 1, "probabilities": [1.0, 0.0]},
        ]
    }
    columns = json.loads(json_tensor.predict_response(outputs, json_tensor.COLUMNAR))
    assert columns == {"outputs": {"cover_type": [3, 1], "probabilities": [[0.5, 0.5], [1.0, 0.0]]}}
    single = json.loads(json_tensor.predict_response({"y": np.float32([1, 2])}, json_tensor.ROW))
    assert single == {"predictions": [1.0, 2.0]}


def test_responses_write_nan_and_bytes_like_tf_serving() -> None:
    body = json_tensor.predict_response(
        {
            "y": np.float32([np.nan, np.inf]),
            "raw_bytes": np.array([b"\x00\xff", b"a"], dtype=object),
        },
        json_tensor.COLUMNAR,
    ).decode()
    assert '"y": [NaN, Infinity]' in body
    assert json.loads(body)["outputs"]["raw_bytes"] == [{"b64": "AP8="}, {"b64": "YQ=="}]


def test_inconsistent_batch_sizes_cannot_be_rows() -> None:
    with pytest.raises(ServingError, match="inconsistent batch size"):
        json_tensor.predict_response({"a": np.ones(2), "b": np.ones(3)}, json_tensor.ROW)


def test_parse_json_errors() -> None:
    for body, message in [
        (b"", "The document is empty"),
        (b"{", "JSON Parse error"),
        (b"[1]", "Is not object"),
    ]:
        with pytest.raises(ServingError, match=message):
            json_tensor.parse_json(body)
    with pytest.raises(ServingError, match="'signature_name' key must be a string value"):
        json_tensor.signature_name_of({"signature_name": 100})


def test_classify_examples_become_tf_examples() -> None:
    request_input = json_tensor.classify_regress_input(
        {"context": {"c": "shared"}, "examples": [{"x": 1.5, "n": [1, 2], "flag": True}]},
        "classify",
    )
    example = request_input.example_list_with_context.examples[0]
    assert list(example.features.feature["x"].float_list.value) == [1.5]
    assert list(example.features.feature["n"].int64_list.value) == [1, 2]
    assert list(example.features.feature["flag"].int64_list.value) == [1]
    context = request_input.example_list_with_context.context
    assert list(context.features.feature["c"].bytes_list.value) == [b"shared"]
    with pytest.raises(ServingError, match="Unexpected element type in feature: x"):
        json_tensor.classify_regress_input({"examples": [{"x": [1.5, "a"]}]}, "classify")
    with pytest.raises(ServingError, match="key 'examples' is expected"):
        json_tensor.classify_regress_input({}, "regress")
