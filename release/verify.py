"""Checking a new version through the gateway with the requests it was warmed up with."""

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from covertype.defaults import ASSETS_EXTRA, WARMUP_FILE
from covertype.schema import FEATURE_COLUMNS, NUMERIC_COLUMNS


class VerifyError(Exception):
    """The gateway did not answer with the expected version."""


@dataclass(frozen=True)
class VerifyResult:
    """What the check sent and what came back."""

    instances: int
    versioned_answer: int
    unversioned_answer: int


def warmup_instances(version_dir: Path) -> list[dict[str, float | int]]:
    """The warmup requests' rows as gateway observations (54 features by name)."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    path = version_dir / ASSETS_EXTRA / WARMUP_FILE
    if not path.is_file():
        raise VerifyError(f"no warmup requests at {path}")
    instances: list[dict[str, float | int]] = []
    for raw in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog.FromString(raw)
        inputs = log.predict_log.request.inputs
        columns = {name: tf.make_ndarray(inputs[name]).reshape(-1) for name in FEATURE_COLUMNS}
        for row in range(len(columns[FEATURE_COLUMNS[0]])):
            instances.append({name: _json_value(name, columns[name][row]) for name in columns})
    if not instances:
        raise VerifyError(f"{path} holds no predict requests")
    return instances


def check_gateway(
    gateway_url: str, version: int, instances: list[dict[str, Any]], timeout: float
) -> VerifyResult:
    """Send `instances` for version `version`, then one unversioned request; both must name it."""
    url = gateway_url.rstrip("/") + "/v1/predict"
    versioned = _predict(f"{url}?version={version}", instances, timeout)
    if len(versioned.get("predictions", [])) != len(instances):
        raise VerifyError(
            f"gateway answered {len(versioned.get('predictions', []))} predictions "
            f"for {len(instances)} instances"
        )
    for index, prediction in enumerate(versioned["predictions"]):
        if prediction.get("cover_type") not in range(1, 8):
            raise VerifyError(f"prediction {index} has no cover type 1..7: {prediction}")
    latest = _predict(url, instances[:1], timeout)
    for name, answer in (("?version=", versioned), ("unversioned", latest)):
        if answer.get("model_version") != version:
            raise VerifyError(
                f"{name} request answered by version {answer.get('model_version')}, "
                f"expected {version}"
            )
    return VerifyResult(len(instances), versioned["model_version"], latest["model_version"])


def _predict(url: str, instances: list[dict[str, Any]], timeout: float) -> dict[str, Any]:
    body = json.dumps({"instances": instances}).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        detail = error.read().decode("utf-8", "replace")[:500]
        raise VerifyError(f"POST {url}: HTTP {error.code}: {detail}") from error
    except (urllib.error.URLError, TimeoutError, ValueError) as error:
        raise VerifyError(f"POST {url}: {error}") from error


def _json_value(name: str, value: Any) -> float | int:
    number = float(value)
    if name not in NUMERIC_COLUMNS or number.is_integer():
        return int(number)
    return number
