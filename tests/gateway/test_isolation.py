"""One client's bad request never hurts another's, even when their requests share a call.

A real model server and gateway; requests are sent concurrently, so the gateway merges
the valid ones into shared Predict calls (one call in flight at a time).
"""

import asyncio
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from covertype import defaults, schema
from tests.support.gateway import RunningGateway, start_gateway
from tests.support.model_server import RunningModelServer, start_model_server

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, publish_tiny: Any) -> Iterator[Any]:
    models_dir = tmp_path_factory.mktemp("models")
    publish_tiny(models_dir)
    flags = [
        "--enable_batching=true",
        f"--batching_parameters_file={REPO / 'tfserving' / 'batching.config'}",
    ]
    with start_model_server(
        model_base_path=models_dir / defaults.MODEL_NAME, extra_args=flags
    ) as running:
        yield running


@pytest.fixture(scope="module")
def gateway(server: RunningModelServer) -> Iterator[RunningGateway]:
    with start_gateway(server.grpc_target, extra_args=["--max-concurrent-calls", "1"]) as running:
        yield running


def _numeric(feature: schema.NumericFeature) -> st.SearchStrategy[float]:
    low, high = feature.minimum, feature.maximum
    edges = st.sampled_from([low, high, 0.0 if low <= 0 <= high else low])
    return edges | st.integers(int(low), int(high)) | st.floats(low, high, allow_nan=False)


# Any observation the API calls valid, the domain's edges included.
VALID = st.fixed_dictionaries(
    {
        **{f.name: _numeric(f) for f in schema.NUMERIC_FEATURES},
        "wilderness_area": st.integers(1, schema.WILDERNESS_AREAS),
        "soil_type": st.integers(1, schema.SOIL_TYPES),
    }
)
# Values that no field accepts: past float32, past every domain, not numbers at all.
HOSTILE_VALUES = st.sampled_from([1e39, -1e39, 1e20, -1e20, 1e308, 10**400, "1", None, True, []])


@st.composite
def invalid(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A valid observation with one field broken, and the field a 422 must name."""
    observation = draw(VALID)
    field = draw(st.sampled_from([*schema.NUMERIC_COLUMNS, "wilderness_area", "soil_type"]))
    how = draw(st.sampled_from(["value", "missing", "unknown"]))
    if how == "missing":
        del observation[field]
    elif how == "unknown":
        field = "Elevation_m"
        observation[field] = 1
    else:
        observation[field] = draw(HOSTILE_VALUES)
    return observation, field


async def _send_together(url: str, bodies: list[Any]) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return await asyncio.gather(*(client.post("/v1/predict", json=b) for b in bodies))


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    good=st.lists(VALID, min_size=1, max_size=6),
    bad=st.lists(invalid(), min_size=1, max_size=3),
    order=st.randoms(use_true_random=False),
)
def test_every_valid_request_succeeds_whatever_is_sent_beside_it(
    gateway: RunningGateway, good: list[dict[str, Any]], bad: list[Any], order: Any
) -> None:
    requests = [(True, g, None) for g in good] + [(False, b, field) for b, field in bad]
    order.shuffle(requests)
    answers = asyncio.run(_send_together(gateway.url, [body for _, body, _ in requests]))
    for (valid, body, field), answer in zip(requests, answers, strict=True):
        if valid:
            assert answer.status_code == 200, (body, answer.text)
            (prediction,) = answer.json()["predictions"]
            assert prediction["cover_type"] in schema.CLASS_NAMES
            assert all(math.isfinite(p) for p in prediction["probabilities"].values())
            assert answer.json()["model_version"] == 1
        else:
            assert answer.status_code == 422, (body, answer.text)
            assert field in {p["field"] for p in answer.json()["problems"]}, answer.text


def _predict_calls(gateway: RunningGateway, code: str) -> float:
    text = httpx.get(f"{gateway.url}/metrics", timeout=10).text
    prefix = (
        'covertype_gateway_backend_call_duration_seconds_count{code="%s",method="Predict"} ' % code  # noqa: UP031
    )
    return sum(float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix))


def test_a_shared_call_refused_as_a_whole_is_retried_request_by_request(
    publish_tiny: Any, tmp_path: Path
) -> None:
    """A model server whose max_batch_size is 32 refuses a call of more rows: 20-row requests
    merged into one call are each sent again on their own, and all are answered."""
    publish_tiny(tmp_path)
    batching = tmp_path / "batching.config"
    batching.write_text("max_batch_size { value: 32 }\nbatch_timeout_micros { value: 1000 }\n")
    server_flags = ["--enable_batching=true", f"--batching_parameters_file={batching}"]
    rows = {"instances": [schema.EXAMPLE_OBSERVATION] * 20}
    flags = ["--max-concurrent-calls", "1"]
    with (
        start_model_server(
            model_base_path=tmp_path / defaults.MODEL_NAME, extra_args=server_flags
        ) as server,
        start_gateway(server.grpc_target, extra_args=flags) as gateway,
    ):
        for _ in range(50):
            answers = asyncio.run(_send_together(gateway.url, [rows] * 4))
            assert [a.status_code for a in answers] == [200] * 4, answers[0].text
            if _predict_calls(gateway, "INVALID_ARGUMENT"):
                break
        assert _predict_calls(gateway, "INVALID_ARGUMENT") >= 1, "no call was ever merged"
