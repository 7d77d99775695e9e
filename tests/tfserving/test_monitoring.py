"""The Prometheus page types TF Serving's counters `counter`, with their exact names."""

from prometheus_client.parser import text_string_to_metric_families

from tfserving.monitoring import Metrics


def test_request_count_is_a_counter_named_as_tf_serving_names_it() -> None:
    metrics = Metrics()
    metrics.record_request('a "quoted" model', "Predict", "GRPC", "OK", 120.0, 1)
    metrics.record_request('a "quoted" model', "Predict", "GRPC", "OK", 80.0, 1)
    page = metrics.exposition().decode()
    assert "# TYPE :tensorflow:serving:request_count counter\n" in page
    assert (
        ':tensorflow:serving:request_count{model_name="a \\"quoted\\" model",status="OK"} 2.0\n'
        in (page)
    )
    families = {family.name: family for family in text_string_to_metric_families(page)}
    assert families[":tensorflow:serving:request_count"].type == "counter"
    assert families[":tensorflow:serving:request_latency"].type == "histogram"
