"""Batching: concurrent Predict calls are merged (seen in the metrics), answers unchanged."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from prometheus_client.parser import text_string_to_metric_families
from tensorflow_serving.apis import predict_pb2

from covertype import defaults
from tests.contract.conftest import ServerFactory, Target

CLIENTS = 16
CALLS_PER_CLIENT = 4
INPUT = ":tensorflow:serving:batching_session:input_batch_size"
PROCESSED = ":tensorflow:serving:batching_session:processed_batch_size"


def batching_totals(target: Target) -> dict[str, float]:
    """Counts and sums of TF Serving's batching histograms."""
    page = target.client.metrics()
    totals = {}
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.name in (f"{INPUT}_count", f"{PROCESSED}_count", f"{PROCESSED}_sum"):
                totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


def test_concurrent_calls_are_batched_with_the_same_answers(
    fresh_server: ServerFactory, static_server: Target, rows: np.ndarray, tmp_path: Path
) -> None:
    parameters = tmp_path / "batching.config"
    parameters.write_text(
        "max_batch_size { value: 64 }\n"
        "batch_timeout_micros { value: 20000 }\n"
        "max_enqueued_batches { value: 100 }\n"
        "num_batch_threads { value: 1 }\n"
    )
    target = fresh_server(
        versions=[1], extra_args=["--enable_batching", f"--batching_parameters_file={parameters}"]
    )
    if target.client.rest_url is None:
        pytest.skip("batching is observed in the metrics, which need the REST API")
    requests = [
        rows[i % len(rows) : i % len(rows) + 1 + i % 3] for i in range(CLIENTS * CALLS_PER_CLIENT)
    ]
    version = 1
    expected = [
        static_server.client.predict(r, version=version, signature=defaults.MATRIX_SIGNATURE)
        for r in requests
    ]
    before = batching_totals(target)

    def call(batch: np.ndarray) -> predict_pb2.PredictResponse:
        return target.client.predict(batch, signature=defaults.MATRIX_SIGNATURE)

    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(pool.map(call, requests))
    after = batching_totals(target)

    for answer, reference in zip(answers, expected, strict=True):
        for name in (defaults.OUTPUT_COVER_TYPE, defaults.OUTPUT_PROBABILITIES):
            np.testing.assert_allclose(
                tf.make_ndarray(answer.outputs[name]),
                tf.make_ndarray(reference.outputs[name]),
                rtol=1e-5,
                atol=1e-6,
            )
    tasks = after[f"{INPUT}_count"] - before.get(f"{INPUT}_count", 0)
    batches = after[f"{PROCESSED}_count"] - before.get(f"{PROCESSED}_count", 0)
    rows_run = after[f"{PROCESSED}_sum"] - before.get(f"{PROCESSED}_sum", 0)
    assert tasks == len(requests)
    assert rows_run == sum(len(r) for r in requests)
    assert batches < tasks, f"{tasks:g} calls ran as {batches:g} batches: nothing was merged"
