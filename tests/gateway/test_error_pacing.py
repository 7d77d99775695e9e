"""Error pacing: past its error budget, a client address gets its 4xx answers late, never others."""

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from covertype import defaults
from covertype.schema import EXAMPLE_OBSERVATION
from gateway.error_pacing import ErrorPacer
from tests.support.gateway import RunningGateway, start_gateway
from tests.support.model_server import RunningModelServer, start_model_server

INVALID = {**EXAMPLE_OBSERVATION, "Elevation": -1}


def test_within_the_budget_nothing_is_held() -> None:
    pacer = ErrorPacer(rate=10, burst=3)
    assert [pacer.delay("a", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]


def test_past_the_budget_each_answer_waits_for_its_token() -> None:
    pacer = ErrorPacer(rate=10, burst=2)
    delays = [pacer.delay("a", 0.0) for _ in range(4)]
    assert delays == pytest.approx([0.0, 0.0, 0.1, 0.2])
    # Half a second refills five tokens: the debt of two is paid, three are spare.
    assert pacer.delay("a", 0.5) == 0.0


def test_addresses_have_budgets_of_their_own() -> None:
    pacer = ErrorPacer(rate=10, burst=1)
    assert pacer.delay("a", 0.0) == 0.0
    assert pacer.delay("a", 0.0) > 0
    assert pacer.delay("b", 0.0) == 0.0


def test_no_answer_is_held_longer_than_the_bound() -> None:
    pacer = ErrorPacer(rate=10, burst=1, max_delay_seconds=0.5)
    delays = [pacer.delay("a", 0.0) for _ in range(100)]
    assert max(delays) == pytest.approx(0.5)
    # The debt stopped growing at the bound: it is paid in 0.5 s, not 10 s.
    assert pacer.delay("a", 0.6) == 0.0


def test_the_least_recently_seen_address_is_forgotten_past_the_limit() -> None:
    pacer = ErrorPacer(rate=1, burst=1, max_clients=2)
    for address in ("a", "b", "a", "c"):  # "b" is the least recent when "c" arrives
        pacer.delay(address, 0.0)
    assert pacer.delay("a", 0.0) > 0  # remembered: its budget is spent
    assert pacer.delay("b", 0.0) == 0.0  # forgotten: a full budget again


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, publish_tiny: Any) -> Iterator[Any]:
    models_dir = tmp_path_factory.mktemp("models")
    publish_tiny(models_dir)
    with start_model_server(model_base_path=models_dir / defaults.MODEL_NAME) as running:
        yield running


def paced_errors(gateway: RunningGateway) -> float:
    text = httpx.get(f"{gateway.url}/metrics", timeout=5).text
    match = re.search(r"^covertype_gateway_paced_errors_total ([0-9.e+]+)$", text, re.MULTILINE)
    assert match, "no covertype_gateway_paced_errors_total in /metrics"
    return float(match.group(1))


def test_a_client_past_its_budget_gets_the_same_answers_and_its_valid_requests_pass(
    server: RunningModelServer,
) -> None:
    flags = ["--client-error-rate", "2", "--client-error-burst", "3"]
    with (
        start_gateway(server.grpc_target, extra_args=flags) as gateway,
        httpx.Client(base_url=gateway.url, timeout=30) as client,
    ):
        answers = [client.post("/v1/predict", json=INVALID) for _ in range(8)]
        assert {answer.status_code for answer in answers} == {422}
        assert {answer.json()["problems"][0]["field"] for answer in answers} == {"Elevation"}
        assert paced_errors(gateway) == 5  # every error past the burst of 3 was held
        valid = [client.post("/v1/predict", json=EXAMPLE_OBSERVATION) for _ in range(5)]
        assert {answer.status_code for answer in valid} == {200}
        assert paced_errors(gateway) == 5  # successes are never held
    held = [line for line in gateway.log().splitlines() if '"paced_ms"' in line]
    assert any('"status": 422' in line and '"paced_ms": null' not in line for line in held)


def test_rate_zero_turns_pacing_off(server: RunningModelServer) -> None:
    flags = ["--client-error-rate", "0", "--client-error-burst", "1"]
    with (
        start_gateway(server.grpc_target, extra_args=flags) as gateway,
        httpx.Client(base_url=gateway.url, timeout=30) as client,
    ):
        assert {client.post("/v1/predict", json=INVALID).status_code for _ in range(5)} == {422}
        assert paced_errors(gateway) == 0
