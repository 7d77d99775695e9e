"""Traffic figures from the gateway's real metrics registry, read as the console reads them."""

import pytest

from console.traffic import Scrape, TrafficHistory, parse_predictions, quantile
from gateway.metrics import GatewayMetrics


def _scrape(metrics: GatewayMetrics, at: float) -> Scrape:
    return Scrape(at, parse_predictions(metrics.exposition().decode()))


def test_rates_error_shares_and_quantiles_between_two_readings() -> None:
    metrics = GatewayMetrics()
    history = TrafficHistory(window_seconds=600)
    metrics.observe_prediction(3, 200, 0.004)
    history.add(_scrape(metrics, 100.0))
    for _ in range(90):
        metrics.observe_prediction(3, 200, 0.002)
    for _ in range(10):
        metrics.observe_prediction(3, 503, 0.2)
    metrics.observe_prediction(None, 422, 0.001)
    history.add(_scrape(metrics, 110.0))

    (point,) = history.series()["points"]
    three, none = point["versions"]["3"], point["versions"]["none"]
    assert three["requests_per_second"] == pytest.approx(10.0)
    assert three["server_error_share"] == pytest.approx(0.1)
    assert three["client_error_share"] == 0
    assert 1.5 < three["p50_ms"] <= 2.0  # inside the (1.5 ms, 2 ms] bucket
    assert 100 < three["p99_ms"] <= 250
    assert none["client_error_share"] == 1.0 and none["requests_per_second"] == 0.1


def test_a_gateway_restart_starts_the_series_again() -> None:
    before, after = GatewayMetrics(), GatewayMetrics()
    history = TrafficHistory(window_seconds=600)
    for _ in range(5):
        before.observe_prediction(1, 200, 0.003)
    history.add(_scrape(before, 1.0))
    after.observe_prediction(1, 200, 0.003)
    history.add(_scrape(after, 2.0))
    assert history.series()["points"] == []  # no negative rates across the restart


def test_old_readings_leave_the_window() -> None:
    metrics = GatewayMetrics()
    history = TrafficHistory(window_seconds=60)
    for at in (0.0, 30.0, 61.0, 90.0):
        metrics.observe_prediction(1, 200, 0.003)
        history.add(_scrape(metrics, at))
    assert [p["time"] for p in history.series()["points"]] == [61.0, 90.0]


def test_quantile_of_empty_and_overflowing_histograms() -> None:
    assert quantile(0.5, []) is None
    assert quantile(0.5, [(0.1, 0.0), (float("inf"), 0.0)]) is None
    assert quantile(0.99, [(0.1, 1.0), (float("inf"), 10.0)]) == 0.1
