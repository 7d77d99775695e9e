"""Prometheus metrics under TF Serving's names, served at the monitoring config's path.

TF Serving's metric `/tensorflow/serving/request_count` is exported as
`:tensorflow:serving:request_count`; the same names, label names, units
(microseconds) and bucket layouts are used here, so dashboards and alerts written
for the real server work on this one. TF Serving's counters keep their exact
sample names (no `_total`) and are typed `counter`, as its Prometheus exporter
writes them; prometheus-client would name such a family `..._total`, so they are
written by a small collector of their own. Metrics TF Serving does not have are
prefixed `covertype_model_server_`; they add the version label TF Serving's
request metrics lack.
"""

import threading
from collections.abc import Sequence
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.utils import floatToGoString

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def exponential_buckets(scale: float, growth: float, count: int) -> list[float]:
    """TF's Buckets::Exponential(scale, growth, count) limits, then +Inf."""
    return [scale * growth**i for i in range(count)] + [float("inf")]


REQUEST_LATENCY_BUCKETS = exponential_buckets(10, 1.8, 33)
BATCH_SIZE_BUCKETS = exponential_buckets(1, 2, 14)
QUEUING_LATENCY_BUCKETS = exponential_buckets(100, 1.2, 52)


class ExactNameCounter:
    """A labelled counter written as TF Serving writes one: typed counter, no `_total`."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        self._name = name
        self._documentation = documentation
        self._labelnames = tuple(labelnames)
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def inc(self, labelvalues: tuple[str, ...], amount: float = 1.0) -> None:
        """Add `amount` to the series with these label values."""
        with self._lock:
            self._values[labelvalues] = self._values.get(labelvalues, 0.0) + amount

    def exposition(self) -> bytes:
        """The family in the Prometheus text format: HELP, TYPE counter, one line a series."""
        with self._lock:
            items = sorted(self._values.items())
        lines = [f"# HELP {self._name} {_escape(self._documentation, help_text=True)}"]
        lines.append(f"# TYPE {self._name} counter")
        for labelvalues, value in items:
            labels = ",".join(
                f'{name}="{_escape(label)}"'
                for name, label in zip(self._labelnames, labelvalues, strict=True)
            )
            lines.append(f"{self._name}{{{labels}}} {floatToGoString(value)}")
        return ("\n".join(lines) + "\n").encode()


def _escape(text: str, help_text: bool = False) -> str:
    """The text format's escaping: backslash and newline, and double quotes in label values."""
    escaped = text.replace("\\", "\\\\").replace("\n", "\\n")
    return escaped if help_text else escaped.replace('"', '\\"')


class Metrics:
    """The server's metrics, in their own registry."""

    def __init__(self) -> None:
        disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=True)
        self._request_count = ExactNameCounter(
            ":tensorflow:serving:request_count",
            "The total number of requests.",
            ("model_name", "status"),
        )
        self._request_latency = Histogram(
            ":tensorflow:serving:request_latency",
            "Distribution of wall time (in microseconds) for Tensorflow Serving request.",
            ("model_name", "API", "entrypoint", "status"),
            buckets=REQUEST_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._warmup_latency = Histogram(
            ":tensorflow:serving:model_warmup_latency",
            "Distribution of wall time (in microseconds) for warming up the model.",
            ("model_path", "status"),
            buckets=REQUEST_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._input_batch_size = Histogram(
            ":tensorflow:serving:batching_session:input_batch_size",
            "Tracks the batch size distribution on the inputs.",
            buckets=BATCH_SIZE_BUCKETS,
            registry=self.registry,
        )
        self._processed_batch_size = Histogram(
            ":tensorflow:serving:batching_session:processed_batch_size",
            "Tracks the batch size distribution on processing.",
            buckets=BATCH_SIZE_BUCKETS,
            registry=self.registry,
        )
        self._queuing_latency = Histogram(
            ":tensorflow:serving:batching_session:queuing_latency",
            "Distribution of wall time spent (in microseconds) in queuing",
            ("thread_pool_name",),
            buckets=QUEUING_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._version_requests = Counter(
            "covertype_model_server_version_requests",
            "Successful requests per model version, API and entry point.",
            ("model_name", "version", "API", "entrypoint"),
            registry=self.registry,
        )
        self._batch_size = Histogram(
            "covertype_model_server_batch_size",
            "Rows per executed batch (after padding), per model version and signature.",
            ("model_name", "version", "signature_name"),
            buckets=BATCH_SIZE_BUCKETS,
            registry=self.registry,
        )
        self._children: dict[tuple[object, ...], Any] = {}

    def _child(self, metric: Histogram | Counter, labels: tuple[str, ...]) -> Any:
        """The labelled child, cached: `labels()` is slower than the observation."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def record_request(
        self,
        model_name: str,
        api: str,
        entrypoint: str,
        status: str,
        latency_us: float,
        version: int | None,
    ) -> None:
        """Count one Predict/Classify/Regress request and record its latency."""
        self._request_count.inc((model_name, status))
        self._child(self._request_latency, (model_name, api, entrypoint, status)).observe(
            latency_us
        )
        if version is not None and status == "OK":
            self._child(self._version_requests, (model_name, str(version), api, entrypoint)).inc()

    def observe_warmup(self, model_path: str, status: str, latency_us: float) -> None:
        """Record how long a version's warmup took."""
        self._child(self._warmup_latency, (model_path, status)).observe(latency_us)

    def observe_task(self, rows: int) -> None:
        """Record one task entering a batching queue."""
        self._input_batch_size.observe(rows)

    def observe_batch(
        self,
        model_name: str,
        version: int,
        signature_name: str,
        rows: int,
        queuing_us: Sequence[float],
        thread_pool_name: str,
    ) -> None:
        """Record one executed batch: its size and how long each of its tasks queued."""
        self._processed_batch_size.observe(rows)
        self._child(self._batch_size, (model_name, str(version), signature_name)).observe(rows)
        queuing = self._child(self._queuing_latency, (thread_pool_name,))
        for latency in queuing_us:
            queuing.observe(latency)

    def exposition(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return self._request_count.exposition() + generate_latest(self.registry)
