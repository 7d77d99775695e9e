"""The gateway end to end: a real tiny model, the real model server and gateway on free ports.

One model server (two versions, labels `stable` -> 1 and `canary` -> 2 in its
models.config) and one gateway (reading the same models.config for labels) serve
the module; tests that stop the model server start their own pair.
"""

import asyncio
import csv
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tensorflow as tf

from covertype import defaults, schema
from tests.support.gateway import RunningGateway, start_gateway
from tests.support.model_server import RunningModelServer, start_model_server

MODEL = defaults.MODEL_NAME
ROWS = 24  # observations taken from the training data


def models_config(models_dir: Path, labels: dict[str, int]) -> str:
    """TF Serving's text-format ModelServerConfig serving versions 1 and 2, with labels."""
    label_lines = "".join(
        f'    version_labels {{ key: "{name}" value: {version} }}\n'
        for name, version in labels.items()
    )
    return (
        "model_config_list {\n"
        "  config {\n"
        f'    name: "{MODEL}"\n'
        f'    base_path: "{models_dir / MODEL}"\n'
        '    model_platform: "tensorflow"\n'
        "    model_version_policy { specific { versions: 1 versions: 2 } }\n"
        f"{label_lines}"
        "  }\n"
        "}\n"
    )


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory, publish_tiny: Any) -> Path:
    """A models dir with versions 1 and 2 of the tiny model."""
    models_dir = tmp_path_factory.mktemp("models")
    publish_tiny(models_dir, 2)
    return models_dir


@pytest.fixture(scope="module")
def config_file(two_versions: Path) -> Path:
    path = two_versions / "models.config"
    path.write_text(models_config(two_versions, {"stable": 1, "canary": 2}))
    return path


@pytest.fixture(scope="module")
def server(config_file: Path) -> Iterator[RunningModelServer]:
    # As TF Serving, the server refuses labels on versions not yet loaded unless told.
    with start_model_server(
        model_config_file=config_file,
        extra_args=["--allow_version_labels_for_unavailable_models=true"],
    ) as running:
        yield running


@pytest.fixture(scope="module")
def gateway(server: RunningModelServer, config_file: Path) -> Iterator[RunningGateway]:
    with start_gateway(
        server.grpc_target, extra_args=["--model-config-file", str(config_file)]
    ) as running:
        yield running


@pytest.fixture(scope="module")
def client(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30.0) as http:
        yield http


@pytest.fixture(scope="module")
def dataset_rows(train_csv: Path) -> list[dict[str, int]]:
    """The first rows of the training CSV, feature columns only, as the dataset gives them."""
    with train_csv.open(newline="") as handle:
        reader = csv.DictReader(handle)
        return [
            {name: int(row[name]) for name in schema.FEATURE_COLUMNS}
            for _, row in zip(range(ROWS), reader, strict=False)
        ]


def as_compact(row: dict[str, int]) -> dict[str, int]:
    """The same observation with wilderness area and soil type given by number."""
    compact = {name: row[name] for name in schema.NUMERIC_COLUMNS}
    compact["wilderness_area"] = 1 + [row[c] for c in schema.WILDERNESS_COLUMNS].index(1)
    compact["soil_type"] = 1 + [row[c] for c in schema.SOIL_COLUMNS].index(1)
    return compact


def predict(client: httpx.Client, body: object, **params: object) -> httpx.Response:
    return client.post("/v1/predict", json=body, params=params)


def test_both_encodings_give_identical_predictions(
    client: httpx.Client, dataset_rows: list[dict[str, int]]
) -> None:
    one_hot = predict(client, {"instances": dataset_rows})
    compact = predict(client, {"instances": [as_compact(r) for r in dataset_rows]})
    assert one_hot.status_code == 200, one_hot.text
    assert compact.status_code == 200, compact.text
    assert one_hot.json() == compact.json()
    body = one_hot.json()
    assert body["model_name"] == MODEL
    assert body["model_version"] == 2
    assert len(body["predictions"]) == ROWS
    for prediction in body["predictions"]:
        assert set(prediction) == {"cover_type", "cover_type_name", "probabilities"}
        assert prediction["cover_type_name"] == schema.CLASS_NAMES[prediction["cover_type"]]
        probabilities = prediction["probabilities"]
        assert list(probabilities) == list(schema.CLASS_NAMES.values())
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-4)
        best = max(probabilities, key=probabilities.__getitem__)
        assert best == prediction["cover_type_name"]


def test_predictions_equal_the_saved_model_called_directly(
    client: httpx.Client, two_versions: Path, dataset_rows: list[dict[str, int]]
) -> None:
    answer = predict(client, {"instances": dataset_rows}, version=1)
    assert answer.status_code == 200, answer.text
    loaded = tf.saved_model.load(str(two_versions / MODEL / "1"))
    named = {
        name: tf.constant([float(row[name]) for row in dataset_rows], dtype=tf.float32)
        for name in schema.FEATURE_COLUMNS
    }
    direct = loaded.signatures[defaults.DEFAULT_SIGNATURE](**named)
    expected = direct[defaults.OUTPUT_PROBABILITIES].numpy()
    got = np.array([list(p["probabilities"].values()) for p in answer.json()["predictions"]])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert [p["cover_type"] for p in answer.json()["predictions"]] == (
        direct[defaults.OUTPUT_COVER_TYPE].numpy().tolist()
    )


def test_a_bare_observation_gets_one_prediction(
    client: httpx.Client, dataset_rows: list[dict[str, int]]
) -> None:
    answer = predict(client, as_compact(dataset_rows[0]))
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"]) == 1
    batch = predict(client, {"instances": [dataset_rows[0]]})
    assert answer.json() == batch.json()


@pytest.mark.parametrize(
    ("params", "version"),
    [
        ({}, 2),
        ({"version": 1}, 1),
        ({"version": 2}, 2),
        ({"label": "stable"}, 1),
        ({"label": "canary"}, 2),
    ],
)
def test_version_and_label_routing(
    client: httpx.Client, dataset_rows: list[dict[str, int]], params: dict[str, Any], version: int
) -> None:
    answer = predict(client, dataset_rows[0], **params)
    assert answer.status_code == 200, answer.text
    assert answer.json()["model_version"] == version


@pytest.mark.parametrize(
    ("params", "error"),
    [({"version": 7}, "model_version_not_found"), ({"label": "nope"}, "model_label_not_found")],
)
def test_unknown_version_or_label_is_404(
    client: httpx.Client, dataset_rows: list[dict[str, int]], params: dict[str, Any], error: str
) -> None:
    answer = predict(client, dataset_rows[0], **params)
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"] == error


def test_models_lists_versions_states_and_labels(client: httpx.Client, config_file: Path) -> None:
    answer = client.get("/v1/models")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model_name"] == MODEL
    assert [(v["version"], v["state"], v["labels"]) for v in body["versions"]] == [
        (2, "AVAILABLE", ["canary"]),
        (1, "AVAILABLE", ["stable"]),
    ]
    assert body["labels"] == {"canary": 2, "stable": 1}
    assert str(config_file) in body["labels_source"]


def test_health_and_readiness(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["ready"] is True
    assert ready.json()["ready_since"] <= time.time()


def test_invalid_input_lists_every_problem(
    client: httpx.Client, dataset_rows: list[dict[str, int]]
) -> None:
    two_soils = {**dataset_rows[0], "Soil_Type1": 1, "Soil_Type2": 1}
    broken = {**as_compact(dataset_rows[1]), "Elevation": -5, "Slope": "steep", "colour": "green"}
    del broken["Aspect"]
    answer = predict(client, {"instances": [dataset_rows[2], two_soils, broken]})
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error"] == "invalid_input"
    assert body["request_id"] == answer.headers["x-request-id"]
    found = {(p["instance"], p["field"], p["kind"]) for p in body["problems"]}
    assert found == {
        (1, "Soil_Type", "one_hot"),
        (2, "Elevation", "out_of_domain"),
        (2, "Slope", "wrong_type"),
        (2, "Aspect", "missing_feature"),
        (2, "colour", "unknown_field"),
    }
    assert all(p["rule"] for p in body["problems"])


def test_malformed_json_is_400(client: httpx.Client) -> None:
    answer = client.post(
        "/v1/predict", content=b'{"instances": [}', headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "malformed_json"


@pytest.mark.parametrize(
    "body",
    [
        b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
        b'{"instances": [{"Elevation": 1e999999}]}',
        b'{"instances": [{"\\u0000": null, "Elevation": {"$gt": 1}}]}',
        b'{"Elevation": -Infinity, "Aspect": NaN}',
        b'{"instances": [null, true, "x", 1.5, []]}',
        b"\xff\xfe\x00\x01",
        b"null",
        b"[" * 100_000,
        b'{"Elevation": ' + b"9" * 5000 + b"}",
        '{"soil_type": "☃", "wilderness_area": 99999999999999999999999}'.encode(),
    ],
)
def test_bad_input_never_gets_a_500(client: httpx.Client, body: bytes) -> None:
    answer = client.post("/v1/predict", content=body)
    assert answer.status_code in (400, 422), answer.text
    assert answer.json()["message"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (None, 200),  # the first dataset rows
        (b'{"instances": [{"Elevation": 2596}]}', 422),
        (b'{"instances": [}', 400),
        (b"null", 422),
        (b"the observation", 400),
    ],
)
def test_predict_answers_alike_without_and_with_a_query(
    client: httpx.Client, dataset_rows: list[dict[str, int]], body: bytes | None, status: int
) -> None:
    """A query-free predict takes the gateway's shortcut; with `?version=2` FastAPI routes it.

    Version 2 is the latest, so both requests ask the same thing and must be answered alike.
    """
    content = body or json.dumps({"instances": dataset_rows[:2]}).encode()
    shortcut, routed = (
        client.post("/v1/predict", content=content, params=params, headers={"X-Request-ID": "a"})
        for params in ({}, {"version": 2})
    )
    assert shortcut.status_code == routed.status_code, (shortcut.text, routed.text)
    assert shortcut.status_code == status, shortcut.text
    assert shortcut.json() == routed.json()
    for name in ("content-type", "x-request-id"):
        assert shortcut.headers.get(name) == routed.headers.get(name), name


def test_request_id_round_trip_and_access_log(
    client: httpx.Client, gateway: RunningGateway, dataset_rows: list[dict[str, int]]
) -> None:
    sent = client.post(
        "/v1/predict", json={"instances": dataset_rows[:3]}, headers={"X-Request-ID": "e2e-42"}
    )
    assert sent.status_code == 200
    assert sent.headers["x-request-id"] == "e2e-42"
    generated = client.get("/healthz").headers["x-request-id"]
    assert len(generated) == 32 and generated != "e2e-42"

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        entries = [e for e in gateway.access_log() if e["request_id"] == "e2e-42"]
        if entries:
            break
        time.sleep(0.05)
    [entry] = entries
    assert entry["route"] == "/v1/predict"
    assert entry["status"] == 200
    assert entry["instances"] == 3
    assert entry["model_version"] == 2
    assert entry["latency_ms"] > 0


def test_metrics_count_requests_latency_and_instances(
    client: httpx.Client, dataset_rows: list[dict[str, int]]
) -> None:
    predict(client, {"instances": dataset_rows[:5]})
    predict(client, {"instances": [{}]})
    text = client.get("/metrics").text
    assert (
        'covertype_gateway_requests_total{method="POST",route="/v1/predict",status="200"}' in text
    )
    assert (
        'covertype_gateway_requests_total{method="POST",route="/v1/predict",status="422"}' in text
    )
    assert (
        'covertype_gateway_request_duration_seconds_bucket{le="0.005",route="/v1/predict"}' in text
    )
    assert (
        'covertype_gateway_backend_call_duration_seconds_count{code="OK",method="Predict"}' in text
    )
    assert 'covertype_gateway_instances_per_request_bucket{le="5.0"}' in text


def test_openapi_examples_work_when_pasted(client: httpx.Client) -> None:
    assert client.get("/docs").status_code == 200
    document = client.get("/openapi.json").json()
    body = document["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert "Observation" in document["components"]["schemas"]
    assert len(body["examples"]) >= 3
    for name, example in body["examples"].items():
        answer = client.post("/v1/predict", content=json.dumps(example["value"]))
        assert answer.status_code == 200, (name, answer.text)


def test_limits_and_deadline_set_by_environment(
    server: RunningModelServer, dataset_rows: list[dict[str, int]]
) -> None:
    env = {
        "COVERTYPE_GATEWAY_MAX_INSTANCES": "3",
        "COVERTYPE_GATEWAY_MAX_BODY_BYTES": "4000",
        "COVERTYPE_GATEWAY_TIMEOUT_SECONDS": "0.0001",
    }
    with (
        start_gateway(server.grpc_target, env=env) as limited,
        httpx.Client(base_url=limited.url, timeout=30.0) as http,
    ):
        too_many = predict(http, {"instances": [as_compact(r) for r in dataset_rows[:4]]})
        assert too_many.status_code == 422
        assert too_many.json()["problems"][0]["kind"] == "too_many"
        too_big = http.post("/v1/predict", content=b" " * 4001)
        assert too_big.status_code == 413
        assert too_big.json()["error"] == "body_too_large"
        timed_out = predict(http, as_compact(dataset_rows[0]))
        assert timed_out.status_code == 504, timed_out.text
        assert timed_out.json()["error"] == "backend_timeout"


def test_unknown_model_is_404(
    server: RunningModelServer, dataset_rows: list[dict[str, int]]
) -> None:
    with (
        start_gateway(server.grpc_target, model_name="no_such_model") as other,
        httpx.Client(base_url=other.url, timeout=30.0) as http,
    ):
        answer = predict(http, dataset_rows[0])
        assert answer.status_code == 404, answer.text
        assert http.get("/readyz").status_code == 503


def _eventually(check: Any, timeout: float, interval: float = 0.2) -> Any:
    """Call `check` until it returns a truthy value or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def test_503_while_the_model_server_is_down_and_recovery_after_restart(
    two_versions: Path, dataset_rows: list[dict[str, int]]
) -> None:
    base_path = two_versions / MODEL
    first = start_model_server(model_base_path=base_path)
    grpc_port = first.grpc_target.rsplit(":", 1)[1]
    try:
        with (
            start_gateway(first.grpc_target) as running,
            httpx.Client(base_url=running.url, timeout=30.0) as http,
        ):
            assert predict(http, dataset_rows[0]).status_code == 200
            assert http.get("/readyz").status_code == 200

            first.stop()
            down = predict(http, dataset_rows[0])
            assert down.status_code == 503, down.text
            assert down.json()["error"] == "backend_unavailable"
            assert int(down.headers["retry-after"]) >= 1
            # Once ready, a model server outage is answered per request, not by readiness.
            assert http.get("/readyz").status_code == 200

            with start_model_server(model_base_path=base_path, grpc_port=int(grpc_port)):
                recovered = _eventually(
                    lambda: predict(http, dataset_rows[0]).status_code == 200, timeout=30
                )
                assert recovered, "the gateway did not recover after the model server returned"
                assert http.get("/readyz").status_code == 200
    finally:
        first.stop()


def _backend_calls(metrics_text: str) -> tuple[float, float]:
    """(Predict calls, instances sent in them) from the gateway's metrics."""
    values = {}
    for line in metrics_text.splitlines():
        for name in ("count", "sum"):
            prefix = f"covertype_gateway_backend_call_instances_{name} "
            if line.startswith(prefix):
                values[name] = float(line.removeprefix(prefix))
    return values["count"], values["sum"]


def test_concurrent_requests_share_calls_and_each_gets_its_own_answer(
    server: RunningModelServer, dataset_rows: list[dict[str, int]]
) -> None:
    observations = [
        {**as_compact(row), "Elevation": as_compact(row)["Elevation"] + shift}
        for shift in (0, 7, 13)
        for row in dataset_rows
    ]
    with start_gateway(server.grpc_target, extra_args=["--max-concurrent-calls", "1"]) as running:
        with httpx.Client(base_url=running.url, timeout=30.0) as http:
            alone = [predict(http, obs).json() for obs in observations]
            calls_before, rows_before = _backend_calls(http.get("/metrics").text)

        async def burst() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=running.url, timeout=30.0) as client:
                return await asyncio.gather(
                    *(client.post("/v1/predict", json=obs) for obs in observations)
                )

        for _ in range(5):  # bounded: coalescing needs requests to overlap in time
            answers = asyncio.run(burst())
            with httpx.Client(base_url=running.url, timeout=30.0) as http:
                calls, rows = _backend_calls(http.get("/metrics").text)
            assert all(a.status_code == 200 for a in answers)
            for answer, expected in zip(answers, alone, strict=True):
                got, want = answer.json()["predictions"][0], expected["predictions"][0]
                assert list(got["probabilities"].values()) == pytest.approx(
                    list(want["probabilities"].values()), rel=1e-5, abs=1e-6
                )
                ranked = sorted(want["probabilities"].values(), reverse=True)
                if ranked[0] - ranked[1] > 1e-4:
                    assert got["cover_type"] == want["cover_type"]
            assert rows - rows_before == len(observations)
            if calls - calls_before < len(observations):
                break
            calls_before, rows_before = calls, rows
        assert calls - calls_before < len(observations), "no two requests ever shared a call"
