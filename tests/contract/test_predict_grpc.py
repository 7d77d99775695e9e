"""PredictionService and ModelService over gRPC on a server with versions 1 and 2."""

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import classification_pb2, get_model_metadata_pb2, get_model_status_pb2

from covertype import defaults, schema
from tests.contract.conftest import Target
from tests.contract.serving_api import ServingClient

COVER_TYPE = defaults.OUTPUT_COVER_TYPE
PROBABILITIES = defaults.OUTPUT_PROBABILITIES


def rpc_error(call: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call()  # type: ignore[operator]
    return raised.value


def outputs(response: object) -> tuple[np.ndarray, np.ndarray]:
    return (
        tf.make_ndarray(response.outputs[COVER_TYPE]),  # type: ignore[attr-defined]
        tf.make_ndarray(response.outputs[PROBABILITIES]),  # type: ignore[attr-defined]
    )


def require_label(client: ServingClient, rows: np.ndarray, label: str) -> int:
    try:
        return client.predict(rows[:1], label=label).model_spec.version.value
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
            pytest.skip(f"the server has no version label {label!r}")
        raise


def test_latest_answers_with_the_highest_available_version(
    static_server: Target, rows: np.ndarray
) -> None:
    client = static_server.client
    response = client.predict(rows)
    assert response.model_spec.name == client.model_name
    assert response.model_spec.version.value == max(client.available())
    assert response.model_spec.signature_name == defaults.DEFAULT_SIGNATURE
    cover_type, probabilities = outputs(response)
    assert cover_type.shape == (len(rows),)
    assert set(cover_type) <= set(schema.CLASS_NAMES)
    assert probabilities.shape == (len(rows), schema.NUM_CLASSES)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(cover_type, probabilities.argmax(axis=1) + 1)


def test_every_available_version_answers_by_number(static_server: Target, rows: np.ndarray) -> None:
    client = static_server.client
    for version in client.available():
        assert client.predict(rows[:2], version=version).model_spec.version.value == version


def test_labels_choose_the_version(static_server: Target, rows: np.ndarray) -> None:
    client = static_server.client
    stable = require_label(client, rows, "stable")
    canary = require_label(client, rows, "canary")
    if not static_server.external:
        assert (stable, canary) == (1, 2)
    assert {stable, canary} <= set(client.available())


def test_both_signatures_give_the_same_answers(static_server: Target, rows: np.ndarray) -> None:
    client = static_server.client
    version = max(client.available())
    named = client.predict(rows, version=version)
    matrix = client.predict(rows, version=version, signature=defaults.MATRIX_SIGNATURE)
    assert matrix.model_spec.signature_name == defaults.MATRIX_SIGNATURE
    np.testing.assert_array_equal(outputs(named)[0], outputs(matrix)[0])
    np.testing.assert_allclose(outputs(named)[1], outputs(matrix)[1], rtol=1e-5, atol=1e-6)


def test_output_filter_returns_only_the_named_outputs(
    static_server: Target, rows: np.ndarray
) -> None:
    response = static_server.client.predict(rows, output_filter=[PROBABILITIES])
    assert list(response.outputs) == [PROBABILITIES]


def test_metadata_lists_both_signatures(static_server: Target) -> None:
    client = static_server.client
    response = client.metadata()
    assert response.model_spec.name == client.model_name
    assert response.model_spec.version.value == max(client.available())
    signatures = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signatures)
    named = signatures.signature_def[defaults.DEFAULT_SIGNATURE]
    assert set(named.inputs) == set(schema.FEATURE_COLUMNS)
    assert set(named.outputs) == {COVER_TYPE, PROBABILITIES}
    matrix = signatures.signature_def[defaults.MATRIX_SIGNATURE]
    features = matrix.inputs[defaults.MATRIX_INPUT].tensor_shape.dim
    assert [d.size for d in features] == [-1, len(schema.FEATURE_COLUMNS)]


def test_status_lists_each_available_version(static_server: Target) -> None:
    statuses = static_server.client.statuses()
    available = [v for v, s in statuses.items() if s.state == "AVAILABLE"]
    assert available
    assert all(statuses[v].error_code == 0 for v in available)


def test_status_of_unknown_models_and_versions_is_not_found(static_server: Target) -> None:
    client = static_server.client
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "no_such_model"
    assert (
        rpc_error(lambda: client.models.GetModelStatus(request)).code() == grpc.StatusCode.NOT_FOUND
    )
    request.model_spec.name = client.model_name
    request.model_spec.version.value = 987654
    assert (
        rpc_error(lambda: client.models.GetModelStatus(request)).code() == grpc.StatusCode.NOT_FOUND
    )


def test_unknown_model_version_and_label(static_server: Target, rows: np.ndarray) -> None:
    client = static_server.client
    unknown_model = client.predict_request(rows[:1])
    unknown_model.model_spec.name = "no_such_model"
    error = rpc_error(lambda: client.prediction.Predict(unknown_model))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert (
        rpc_error(lambda: client.predict(rows[:1], version=987654)).code()
        == grpc.StatusCode.NOT_FOUND
    )
    error = rpc_error(lambda: client.predict(rows[:1], label="no_such_label"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_malformed_inputs_are_invalid_arguments(static_server: Target, rows: np.ndarray) -> None:
    client = static_server.client
    missing = client.predict_request(rows[:1])
    del missing.inputs["Elevation"]
    renamed = client.predict_request(rows[:1])
    renamed.inputs["Elevationn"].CopyFrom(renamed.inputs.pop("Elevation"))
    wrong_dtype = client.predict_request(rows[:1])
    wrong_dtype.inputs["Elevation"].CopyFrom(tf.make_tensor_proto(np.float64([2596.0])))
    wrong_shape = client.predict_request(rows[:1, :53], signature=defaults.MATRIX_SIGNATURE)
    bad_filter = client.predict_request(rows[:1], output_filter=["no_such_output"])
    for request in (missing, renamed, wrong_dtype, wrong_shape, bad_filter):
        error = rpc_error(lambda request=request: client.prediction.Predict(request))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()


def test_unknown_signature_is_a_failed_precondition(
    static_server: Target, rows: np.ndarray
) -> None:
    client = static_server.client
    error = rpc_error(lambda: client.predict(rows[:1], signature="no_such_signature"))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "no_such_signature" in error.details()


def test_classify_needs_a_classification_signature(static_server: Target) -> None:
    client = static_server.client
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = client.model_name
    example = request.input.example_list.examples.add()
    example.features.feature["Elevation"].float_list.value.append(2596.0)
    error = rpc_error(lambda: client.prediction.Classify(request))
    # serving_default has 54 inputs, not the one tf.Example input "inputs" Classify feeds.
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "Expected one input Tensor."
