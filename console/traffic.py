"""Live traffic per model version, from successive scrapes of the gateway's /metrics.

The gateway exports `covertype_gateway_prediction_duration_seconds`, a histogram of
prediction requests labelled by the version that answered and the outcome. Two scrapes
give, for the time between them, each version's request rate, error shares and latency
quantiles (interpolated in the histogram's buckets, as Prometheus' histogram_quantile).
"""

import itertools
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

PREDICTION_METRIC = "covertype_gateway_prediction_duration_seconds"
QUANTILES = (0.5, 0.99)

# (version, outcome) -> cumulative counts per upper bound, ascending, +Inf last
Snapshot = dict[tuple[str, str], list[tuple[float, float]]]


@dataclass(frozen=True)
class Scrape:
    """One reading of the gateway's prediction histogram."""

    time: float
    buckets: Snapshot


def parse_predictions(exposition: str) -> Snapshot:
    """The prediction histogram's buckets from a Prometheus text exposition."""
    snapshot: Snapshot = {}
    for family in text_string_to_metric_families(exposition):
        if family.name != PREDICTION_METRIC:
            continue
        for sample in family.samples:
            if not sample.name.endswith("_bucket"):
                continue
            key = (sample.labels["version"], sample.labels["outcome"])
            snapshot.setdefault(key, []).append((float(sample.labels["le"]), sample.value))
    for counts in snapshot.values():
        counts.sort()
    return snapshot


def quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """The q-quantile of cumulative `buckets`, linear within a bucket; None when empty."""
    total = buckets[-1][1] if buckets else 0.0
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # beyond the last finite bucket: its bound is all we know
            share = (rank - lower_count) / (count - lower_count) if count > lower_count else 1.0
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = bound, count
    return lower_bound


class TrafficHistory:
    """The last scrapes of one gateway, and the per-version figures between them."""

    def __init__(self, window_seconds: float) -> None:
        self.window_seconds = window_seconds
        self.scrapes: deque[Scrape] = deque()

    def add(self, scrape: Scrape) -> None:
        """Keep `scrape`; forget those older than the window. A gateway restart resets."""
        if self.scrapes and _went_back(self.scrapes[-1].buckets, scrape.buckets):
            self.scrapes.clear()
        self.scrapes.append(scrape)
        while self.scrapes and scrape.time - self.scrapes[0].time > self.window_seconds:
            self.scrapes.popleft()

    def series(self) -> dict[str, Any]:
        """Per interval between scrapes: each version's rate, error shares and quantiles."""
        points = [
            {"time": after.time, "versions": _interval(before, after)}
            for before, after in itertools.pairwise(self.scrapes)
        ]
        return {"window_seconds": self.window_seconds, "points": points}


def _went_back(before: Snapshot, after: Snapshot) -> bool:
    """True when a counter decreased or vanished (the gateway restarted)."""
    for key, counts in before.items():
        now = after.get(key)
        if now is None or now[-1][1] < counts[-1][1]:
            return True
    return False


def _interval(before: Scrape, after: Scrape) -> dict[str, dict[str, float | None]]:
    seconds = after.time - before.time
    by_version: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for (version, outcome), counts in after.buckets.items():
        previous = dict(before.buckets.get((version, outcome), []))
        delta = [(bound, count - previous.get(bound, 0.0)) for bound, count in counts]
        by_version.setdefault(version, {})[outcome] = delta
    figures: dict[str, dict[str, float | None]] = {}
    for version, outcomes in by_version.items():
        requests = sum(counts[-1][1] for counts in outcomes.values())
        if requests <= 0:
            continue
        merged = _merge(list(outcomes.values()))
        figures[version] = {
            "requests_per_second": requests / seconds if seconds > 0 else None,
            "server_error_share": _last(outcomes.get("server_error")) / requests,
            "client_error_share": _last(outcomes.get("client_error")) / requests,
            **{f"p{round(q * 100)}_ms": _milliseconds(quantile(q, merged)) for q in QUANTILES},
        }
    return figures


def _merge(histograms: list[list[tuple[float, float]]]) -> list[tuple[float, float]]:
    totals: dict[float, float] = {}
    for counts in histograms:
        for bound, count in counts:
            totals[bound] = totals.get(bound, 0.0) + count
    return sorted(totals.items())


def _last(counts: list[tuple[float, float]] | None) -> float:
    return counts[-1][1] if counts else 0.0


def _milliseconds(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)
