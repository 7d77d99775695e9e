"""The console's JSON endpoints against a real model server, gateway and models folder."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from covertype.schema import EXAMPLE_OBSERVATION
from tests.support.console import LABELS, ConsoleStack, console_stack, start_console


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, publish_tiny: Any) -> Iterator[ConsoleStack]:
    with console_stack(tmp_path_factory.mktemp("console"), publish_tiny) as running:
        yield running


@pytest.fixture(scope="module")
def console(stack: ConsoleStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.console.url, timeout=30.0) as client:
        yield client


def _wait_for(check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def _both_available(console: httpx.Client) -> dict[str, Any] | None:
    body = console.get("/console/api/versions").json()
    states = {row["version"]: row["state"] for row in body["versions"]}
    return body if states == {1: "AVAILABLE", 2: "AVAILABLE"} else None


def test_versions_join_server_states_labels_and_model_cards(console: httpx.Client) -> None:
    body = _wait_for(lambda: _both_available(console))
    assert body, console.get("/console/api/versions").text
    rows = {row["version"]: row for row in body["versions"]}
    assert [row["version"] for row in body["versions"]] == [2, 1]  # newest first
    assert rows[2]["answers_by_default"] and not rows[1]["answers_by_default"]
    assert {label: v for v, row in rows.items() for label in row["labels"]} == LABELS
    for row in rows.values():
        assert row["registry_state"] == "live"
        assert 0 < row["card"]["accuracy"] <= 1
        assert row["card"]["data_fingerprint"].startswith("sha256:")


def test_card_has_the_confusion_matrix_and_the_training_curve(console: httpx.Client) -> None:
    card = console.get("/console/api/versions/1/card").json()
    matrix = card["confusion_matrix"]
    assert len(matrix) == 7 and all(len(row) == 7 for row in matrix)
    history = card["training_history"]
    assert len(history["loss"]) == card["epochs_run"] == len(history["accuracy"])
    missing = console.get("/console/api/versions/99/card")
    assert missing.status_code == 404
    assert "99" in missing.json()["message"]


def test_predict_is_answered_by_the_gateway_verbatim(
    console: httpx.Client, stack: ConsoleStack
) -> None:
    through_console = console.post(
        "/console/api/predict", json=EXAMPLE_OBSERVATION, headers={"X-Request-ID": "console-1"}
    )
    direct = httpx.post(f"{stack.gateway.url}/v1/predict", json=EXAMPLE_OBSERVATION)
    assert through_console.status_code == 200
    answer = through_console.json()
    assert answer["model_version"] == 2
    assert answer["predictions"] == direct.json()["predictions"]
    assert through_console.headers["x-request-id"] == "console-1"

    refused = console.post(
        "/console/api/predict", params={"version": 1}, json={**EXAMPLE_OBSERVATION, "Slope": 91}
    )
    assert refused.status_code == 422
    problem = refused.json()["problems"][0]
    assert (problem["field"], problem["kind"]) == ("Slope", "out_of_domain")
    assert "between 0 and 90" in problem["rule"]


def test_traffic_counts_predictions_per_answering_version(
    console: httpx.Client, stack: ConsoleStack
) -> None:
    console.get("/console/api/traffic")  # first reading
    with httpx.Client(base_url=stack.gateway.url) as gateway:
        for _ in range(5):
            assert gateway.post("/v1/predict", json=EXAMPLE_OBSERVATION).status_code == 200
        for _ in range(3):
            assert gateway.post("/v1/predict?version=1", json=EXAMPLE_OBSERVATION).is_success
        assert gateway.post("/v1/predict", json={"Elevation": "high"}).status_code == 422
    time.sleep(1.1)  # readings closer together than a second are shared
    latest = console.get("/console/api/traffic").json()["points"][-1]["versions"]
    assert latest["2"]["requests_per_second"] > 0 and latest["2"]["server_error_share"] == 0
    assert latest["1"]["p50_ms"] > 0
    assert latest["none"]["client_error_share"] == 1.0


def test_drift_reports_inputs_outside_the_training_range(
    console: httpx.Client, stack: ConsoleStack
) -> None:
    far = {**EXAMPLE_OBSERVATION, "Horizontal_Distance_To_Fire_Points": 100_000}
    with httpx.Client(base_url=stack.gateway.url) as gateway:
        for _ in range(4):
            assert gateway.post("/v1/predict?version=1", json=far).status_code == 200

    def drifted() -> dict[str, Any] | None:
        report = console.get("/console/api/drift").json()
        version = {v["version"]: v for v in report["versions"]}.get(1)
        shares = (version or {}).get("outside_training_range") or {}
        return shares if shares.get("Horizontal_Distance_To_Fire_Points", 0) > 0 else None

    shares = _wait_for(drifted, timeout=30.0)  # the log is re-read at most every 10 s
    assert shares, console.get("/console/api/drift").text
    assert shares["Elevation"] == 0.0


def test_history_lists_what_the_registry_recorded(console: httpx.Client) -> None:
    events = console.get("/console/api/history").json()["events"]
    published = [(e["event"], e["version"]) for e in events if e["source"] == "registry"]
    assert published == [("published", 1), ("published", 2)]


def test_page_and_assets_are_served_from_the_console(console: httpx.Client) -> None:
    page = console.get("/console")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("console.js", "console.css", "vendor/chart.umd.min.js"):
        answer = console.get(f"/console/static/{asset}", headers={"Accept-Encoding": "gzip"})
        assert answer.status_code == 200
        assert answer.headers["content-encoding"] == "gzip"  # the first load stays light


def test_a_console_without_registry_or_log_says_what_is_missing(stack: ConsoleStack) -> None:
    with start_console(stack.gateway.url) as bare, httpx.Client(base_url=bare.url) as client:
        assert "--registry" in client.get("/console/api/history").json()["reason"]
        assert "--prediction-log" in client.get("/console/api/drift").json()["reason"]
        versions = client.get("/console/api/versions").json()["versions"]
        assert {row["version"] for row in versions} == {1, 2}
        assert all(row["card"] is None for row in versions)


def test_an_unreachable_gateway_is_named_not_a_500(tmp_path: Path) -> None:
    from tests.support import free_port

    with start_console(f"http://127.0.0.1:{free_port()}") as lonely:
        answer = httpx.get(f"{lonely.url}/console/api/versions")
        assert answer.status_code == 502
        assert answer.json()["source"] == "gateway"
        assert "ConnectError" in answer.json()["message"]
