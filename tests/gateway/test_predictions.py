"""PredictRequest building and PredictResponse reading, checked against TensorFlow's own codecs."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2 as official_predict

from covertype import defaults, schema
from gateway.predictions import (
    BadModelResponse,
    VersionChoice,
    build_request,
    read_response,
)
from protos.slim import predict_pb2

ROWS = [[float(i * 54 + j) / 7.0 for j in range(54)] for i in range(3)]


def test_request_is_a_float32_matrix_tensorflow_reads_back() -> None:
    slim = build_request(ROWS, "covertype", VersionChoice(version=4))
    official = official_predict.PredictRequest.FromString(slim.SerializeToString())
    assert official.model_spec.name == "covertype"
    assert official.model_spec.signature_name == defaults.MATRIX_SIGNATURE
    assert official.model_spec.version.value == 4
    matrix = tf.make_ndarray(official.inputs[defaults.MATRIX_INPUT])
    assert matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix, np.asarray(ROWS, dtype=np.float32))


@pytest.mark.parametrize(
    ("choice", "oneof"),
    [
        (VersionChoice(), None),
        (VersionChoice(version=0), "version"),
        (VersionChoice(label="stable"), "version_label"),
    ],
)
def test_version_choice_sets_the_oneof(choice: VersionChoice, oneof: str | None) -> None:
    request = build_request(ROWS[:1], "covertype", choice)
    assert request.model_spec.WhichOneof("version_choice") == oneof


def _official_response(
    classes: np.ndarray, probabilities: np.ndarray, version: int | None = 3
) -> predict_pb2.PredictResponse:
    official = official_predict.PredictResponse()
    official.model_spec.name = "covertype"
    if version is not None:
        official.model_spec.version.value = version
    official.outputs[defaults.OUTPUT_COVER_TYPE].CopyFrom(tf.make_tensor_proto(classes))
    official.outputs[defaults.OUTPUT_PROBABILITIES].CopyFrom(tf.make_tensor_proto(probabilities))
    return predict_pb2.PredictResponse.FromString(official.SerializeToString())


def _probabilities(count: int) -> np.ndarray:
    raw = np.arange(1, count * 7 + 1, dtype=np.float32).reshape(count, 7)
    return raw / raw.sum(axis=1, keepdims=True)


def test_response_from_tensor_content_becomes_named_predictions() -> None:
    probabilities = _probabilities(2)
    response = _official_response(np.array([1, 7], dtype=np.int64), probabilities)
    assert response.outputs[defaults.OUTPUT_PROBABILITIES].tensor_content  # TF's own encoding

    outcome = read_response(response, 2, "covertype")

    assert (outcome.model_name, outcome.model_version) == ("covertype", 3)
    first, second = (p.as_json() for p in outcome.predictions)
    assert first["cover_type"] == 1 and first["cover_type_name"] == "Spruce/Fir"
    assert second["cover_type"] == 7 and second["cover_type_name"] == "Krummholz"
    assert list(first["probabilities"]) == list(schema.CLASS_NAMES.values())
    assert list(second["probabilities"].values()) == pytest.approx(probabilities[1].tolist())


def test_response_from_typed_fields_reads_the_same() -> None:
    response = _official_response(np.array([2, 5], dtype=np.int64), _probabilities(2))
    typed = predict_pb2.PredictResponse()
    typed.CopyFrom(response)
    classes = typed.outputs[defaults.OUTPUT_COVER_TYPE]
    classes.ClearField("tensor_content")
    classes.int64_val.extend([2, 5])
    probabilities = typed.outputs[defaults.OUTPUT_PROBABILITIES]
    probabilities.ClearField("tensor_content")
    probabilities.float_val.extend(_probabilities(2).ravel().tolist())
    assert read_response(typed, 2, "covertype") == read_response(response, 2, "covertype")


@pytest.mark.parametrize(
    ("classes", "probabilities", "version", "message"),
    [
        (np.array([1, 2], dtype=np.int64), _probabilities(2), None, "names no version"),
        (np.array([1], dtype=np.int64), _probabilities(2), 1, "cover_type has shape"),
        (np.array([1, 2], dtype=np.int64), _probabilities(2)[:, :6], 1, "probabilities has shape"),
        (np.array([0, 8], dtype=np.int64), _probabilities(2), 1, "not classes 1..7"),
        (np.array(["a", "b"]), _probabilities(2), 1, "unsupported dtype DT_STRING"),
    ],
)
def test_responses_breaking_the_contract_are_refused(
    classes: np.ndarray, probabilities: np.ndarray, version: int | None, message: str
) -> None:
    response = _official_response(classes, probabilities, version)
    with pytest.raises(BadModelResponse, match=message):
        read_response(response, 2, "covertype")


def test_rows_without_finite_probabilities_are_named_and_the_others_kept() -> None:
    probabilities = _probabilities(3)
    probabilities[1, 4] = np.nan
    response = _official_response(np.array([1, 1, 6], dtype=np.int64), probabilities)
    outcome = read_response(response, 3, "covertype")
    assert outcome.unscorable == (1,)
    assert outcome.rows(0, 1).unscorable == ()
    assert outcome.rows(1, 3).unscorable == (0,)
    assert outcome.rows(2, 3).predictions[0].cover_type == 6


def test_a_missing_output_is_refused() -> None:
    response = _official_response(np.array([1], dtype=np.int64), _probabilities(1))
    del response.outputs[defaults.OUTPUT_PROBABILITIES]
    with pytest.raises(BadModelResponse, match="no output 'probabilities'"):
        read_response(response, 1, "covertype")
