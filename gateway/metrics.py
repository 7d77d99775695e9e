"""Prometheus metrics of one gateway app, in a registry of its own (no global state)."""

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0015, 0.002, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
)  # fmt: skip
INSTANCE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass
class GatewayMetrics:
    """Requests by route and status; request and backend-call latency; batch sizes."""

    registry: CollectorRegistry = field(
        default_factory=lambda: CollectorRegistry(auto_describe=True)
    )

    def __post_init__(self) -> None:
        self.requests = Counter(
            "covertype_gateway_requests",
            "HTTP requests answered, by route template, method and status code.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "covertype_gateway_requests_in_progress",
            "HTTP requests received and not yet answered.",
            registry=self.registry,
        )
        self.paced_errors = Counter(
            "covertype_gateway_paced_errors",
            "Error answers held because their client address was past its error budget.",
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "covertype_gateway_request_duration_seconds",
            "Time from receiving a request to sending its response, by route template.",
            ("route",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.prediction_seconds = Histogram(
            "covertype_gateway_prediction_duration_seconds",
            "Time to answer POST /v1/predict, by the model version that answered ('none' when "
            "no model did) and outcome (ok, client_error, server_error).",
            ("version", "outcome"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.backend_seconds = Histogram(
            "covertype_gateway_backend_call_duration_seconds",
            "Duration of gRPC calls to the model server, by method and gRPC status code.",
            ("method", "code"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_instances = Histogram(
            "covertype_gateway_backend_call_instances",
            "Instances in each Predict call (concurrent requests share calls).",
            buckets=INSTANCE_BUCKETS,
            registry=self.registry,
        )
        self.instances = Histogram(
            "covertype_gateway_instances_per_request",
            "Instances in each valid prediction request.",
            buckets=INSTANCE_BUCKETS,
            registry=self.registry,
        )

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request and record its latency."""
        self.requests.labels(route, method, str(status)).inc()
        self.request_seconds.labels(route).observe(seconds)

    def observe_prediction(self, version: int | None, status: int, seconds: float) -> None:
        """Record one answered prediction request under the version that answered it."""
        outcome = "ok" if status < 400 else "client_error" if status < 500 else "server_error"
        label = "none" if version is None else str(version)
        self.prediction_seconds.labels(label, outcome).observe(seconds)

    def observe_backend_call(self, method: str, code: str, seconds: float) -> None:
        """Record one gRPC call to the model server."""
        self.backend_seconds.labels(method, code).observe(seconds)

    def observe_batch(self, count: int) -> None:
        """Record the size of one Predict call."""
        self.batch_instances.observe(count)

    def observe_instances(self, count: int) -> None:
        """Record the size of one prediction request."""
        self.instances.observe(count)

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)
