"""The v1 REST API: status, metadata, predict in row and columnar formats, and errors."""

import httpx
import numpy as np
import pytest
import tensorflow as tf
from prometheus_client.parser import text_string_to_metric_families

from covertype import defaults, schema
from tests.contract.conftest import Target

COVER_TYPE = defaults.OUTPUT_COVER_TYPE
PROBABILITIES = defaults.OUTPUT_PROBABILITIES


@pytest.fixture(scope="module")
def rest(static_server: Target) -> httpx.Client:
    if static_server.client.rest_url is None:
        pytest.skip("the target server has no REST API (set TFSERVING_REST)")
    return static_server.client.http


@pytest.fixture(scope="module")
def model_url(static_server: Target) -> str:
    return f"/v1/models/{static_server.client.model_name}"


def named_instances(rows: np.ndarray) -> list[dict[str, float]]:
    return [dict(zip(schema.FEATURE_COLUMNS, map(float, row), strict=True)) for row in rows]


def error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"]
    return str(body["error"])


def test_model_status(rest: httpx.Client, model_url: str, static_server: Target) -> None:
    body = rest.get(model_url).json()
    versions = body["model_version_status"]
    available = [int(v["version"]) for v in versions if v["state"] == "AVAILABLE"]
    assert sorted(available) == static_server.client.available()
    assert all(v["status"]["error_code"] == "OK" for v in versions if v["state"] == "AVAILABLE")
    one = rest.get(f"{model_url}/versions/{available[0]}").json()
    assert [int(v["version"]) for v in one["model_version_status"]] == [available[0]]


def test_model_metadata(rest: httpx.Client, model_url: str, static_server: Target) -> None:
    body = rest.get(f"{model_url}/metadata").json()
    assert body["model_spec"]["name"] == static_server.client.model_name
    assert int(body["model_spec"]["version"]) == max(static_server.client.available())
    signatures = body["metadata"]["signature_def"]["signature_def"]
    assert set(signatures[defaults.DEFAULT_SIGNATURE]["inputs"]) == set(schema.FEATURE_COLUMNS)
    assert defaults.MATRIX_SIGNATURE in signatures


def test_row_format_with_named_inputs(rest: httpx.Client, model_url: str, rows: np.ndarray) -> None:
    response = rest.post(f"{model_url}:predict", json={"instances": named_instances(rows)})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert len(predictions) == len(rows)
    for prediction in predictions:
        assert set(prediction) == {COVER_TYPE, PROBABILITIES}
        assert prediction[COVER_TYPE] in schema.CLASS_NAMES
        assert len(prediction[PROBABILITIES]) == schema.NUM_CLASSES


def test_row_and_columnar_formats_agree_with_grpc(
    rest: httpx.Client, model_url: str, rows: np.ndarray, static_server: Target
) -> None:
    version = max(static_server.client.available())
    url = f"{model_url}/versions/{version}:predict"
    matrix = defaults.MATRIX_SIGNATURE
    row = rest.post(url, json={"signature_name": matrix, "instances": rows.tolist()}).json()
    column = rest.post(url, json={"signature_name": matrix, "inputs": rows.tolist()}).json()
    grpc_response = static_server.client.predict(rows, version=version)
    expected = tf.make_ndarray(grpc_response.outputs[PROBABILITIES])
    np.testing.assert_allclose(column["outputs"][PROBABILITIES], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        [p[PROBABILITIES] for p in row["predictions"]], expected, rtol=1e-5, atol=1e-6
    )
    assert column["outputs"][COVER_TYPE] == [p[COVER_TYPE] for p in row["predictions"]]


def test_versions_and_labels_in_the_url(
    rest: httpx.Client, model_url: str, rows: np.ndarray, static_server: Target
) -> None:
    body = {"signature_name": defaults.MATRIX_SIGNATURE, "instances": rows[:1].tolist()}
    for version in static_server.client.available():
        assert rest.post(f"{model_url}/versions/{version}:predict", json=body).status_code == 200
    labelled = rest.post(f"{model_url}/labels/stable:predict", json=body)
    if labelled.status_code == 400:
        pytest.skip("the server has no version label 'stable'")
    assert labelled.status_code == 200, labelled.text
    status = rest.get(f"{model_url}/labels/stable").json()
    assert len(status["model_version_status"]) == 1


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/models/no_such_model:predict", {"instances": [[0.0] * 54]}, 404),
        ("{model}/versions/987654:predict", {"instances": [[0.0] * 54]}, 404),
        ("{model}/labels/no_such_label:predict", {"instances": [[0.0] * 54]}, 400),
        ("{model}:predict", {"signature_name": "predict_matrix", "instances": [[0.0] * 53]}, 400),
        ("{model}:predict", {"signature_name": "predict_matrix", "instances": [["a"] * 54]}, 400),
        (
            "{model}:predict",
            {"signature_name": "predict_matrix", "inputs": [], "instances": []},
            400,
        ),
        ("{model}:predict", {"signature_name": "predict_matrix"}, 400),
        ("{model}:predict", {"instances": [{"Elevation": 1.0}]}, 400),
        ("{model}:predict", {"signature_name": "no_such_signature", "instances": [1]}, 400),
    ],
)
def test_errors_are_json_with_tf_serving_status_codes(
    rest: httpx.Client, model_url: str, path: str, body: dict, status: int
) -> None:
    assert error(rest.post(path.format(model=model_url), json=body), status)


def test_malformed_requests(rest: httpx.Client, model_url: str) -> None:
    assert "JSON Parse error" in error(rest.post(f"{model_url}:predict", content=b"{"), 400)
    assert error(rest.get("/v1/models"), 400)
    assert error(rest.get("/v1/models/no_such_model"), 404)
    assert error(rest.get(f"{model_url}/versions/987654"), 404)


def test_metrics_use_tf_serving_names(
    rest: httpx.Client, static_server: Target, rows: np.ndarray
) -> None:
    static_server.client.predict(rows[:1])
    response = rest.get("/monitoring/prometheus/metrics")
    if response.status_code == 404:
        pytest.skip("the server does not export Prometheus metrics (--monitoring_config_file)")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    samples = [sample for family in families.values() for sample in family.samples]
    model = static_server.client.model_name
    # TF Serving types its counters `counter` (the parser names their samples `..._total`).
    request_count = families[":tensorflow:serving:request_count"]
    assert request_count.type == "counter"
    counts = [s for s in request_count.samples if s.labels == {"model_name": model, "status": "OK"}]
    assert counts and counts[0].value >= 1
    latency = [
        s
        for s in samples
        if s.name == ":tensorflow:serving:request_latency_count"
        and s.labels.get("model_name") == model
        and s.labels.get("API") == "Predict"
        and s.labels.get("entrypoint") == "GRPC"
    ]
    assert latency and sum(s.value for s in latency) >= 1
