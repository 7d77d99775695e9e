"""A thin client of TF Serving's public API (official gRPC stubs, and httpx for REST).

Nothing here imports the local server: the contract tests must pass unchanged
against `tensorflow_model_server`.
"""

import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import grpc
import httpx
import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)
from tensorflow_serving.config import model_server_config_pb2

from covertype import defaults, schema

FEATURES = schema.FEATURE_COLUMNS
STATE_NAMES = get_model_status_pb2.ModelVersionStatus.State
T = TypeVar("T")


@dataclass(frozen=True)
class VersionStatus:
    """One entry of GetModelStatus."""

    state: str
    error_code: int
    error_message: str


class ServingClient:
    """gRPC and REST calls to one model on one server."""

    def __init__(self, grpc_target: str, rest_url: str | None, model_name: str) -> None:
        self.model_name = model_name
        self.rest_url = rest_url
        self._channel = grpc.insecure_channel(grpc_target)
        self.prediction = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self.models = model_service_pb2_grpc.ModelServiceStub(self._channel)
        self.http = httpx.Client(base_url=rest_url or "http://rest-api-not-configured", timeout=30)

    def close(self) -> None:
        """Close the channel and the HTTP client."""
        self._channel.close()
        self.http.close()

    def predict_request(
        self,
        rows: np.ndarray,
        *,
        signature: str = "",
        version: int | None = None,
        label: str | None = None,
        output_filter: Sequence[str] = (),
    ) -> predict_pb2.PredictRequest:
        """A PredictRequest for `rows` ([n, 54] features) on serving_default or predict_matrix."""
        request = predict_pb2.PredictRequest()
        spec = request.model_spec
        spec.name = self.model_name
        spec.signature_name = signature
        if version is not None:
            spec.version.value = version
        if label is not None:
            spec.version_label = label
        if signature == defaults.MATRIX_SIGNATURE:
            request.inputs[defaults.MATRIX_INPUT].CopyFrom(tf.make_tensor_proto(rows))
        else:
            for column, name in enumerate(FEATURES):
                request.inputs[name].CopyFrom(tf.make_tensor_proto(rows[:, column]))
        request.output_filter.extend(output_filter)
        return request

    def predict(
        self,
        rows: np.ndarray,
        *,
        signature: str = "",
        version: int | None = None,
        label: str | None = None,
        output_filter: Sequence[str] = (),
        timeout: float = 30,
    ) -> predict_pb2.PredictResponse:
        """Predict over gRPC; raises grpc.RpcError on failure."""
        request = self.predict_request(
            rows, signature=signature, version=version, label=label, output_filter=output_filter
        )
        return self.prediction.Predict(request, timeout=timeout)

    def statuses(self) -> dict[int, VersionStatus]:
        """GetModelStatus for every version ({} if the server knows none)."""
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = self.model_name
        try:
            response = self.models.GetModelStatus(request, timeout=10)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return {}
            raise
        return {
            s.version: VersionStatus(
                STATE_NAMES.Name(s.state), s.status.error_code, s.status.error_message
            )
            for s in response.model_version_status
        }

    def available(self) -> list[int]:
        """The AVAILABLE versions, ascending."""
        return sorted(v for v, s in self.statuses().items() if s.state == "AVAILABLE")

    def metadata(
        self, version: int | None = None
    ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        """GetModelMetadata (signature_def)."""
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        request.model_spec.name = self.model_name
        if version is not None:
            request.model_spec.version.value = version
        return self.prediction.GetModelMetadata(request, timeout=10)

    def reload(
        self, config: model_server_config_pb2.ModelServerConfig, timeout: float = 120
    ) -> model_management_pb2.ReloadConfigResponse:
        """HandleReloadConfigRequest; raises grpc.RpcError if refused."""
        request = model_management_pb2.ReloadConfigRequest(config=config)
        return self.models.HandleReloadConfigRequest(request, timeout=timeout)

    def metrics(self, path: str = "/monitoring/prometheus/metrics") -> str:
        """The Prometheus page."""
        response = self.http.get(path)
        response.raise_for_status()
        return response.text


def wait_until(check: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}; last result: {result!r}")
        time.sleep(interval)


def publish(saved_model: Path, base_path: Path, version: int) -> Path:
    """Make a version folder the way the trainer does: copy beside it, then rename into place."""
    base_path.mkdir(parents=True, exist_ok=True)
    staging = base_path / f".staging-{version}-{uuid.uuid4().hex}"
    shutil.copytree(saved_model, staging)
    target = base_path / str(version)
    os.rename(staging, target)
    return target


def clear_versions(base_path: Path) -> None:
    """Remove every version folder under a base path."""
    if base_path.is_dir():
        for child in base_path.iterdir():
            if child.name.isdigit():
                shutil.rmtree(child)


def model_config(
    name: str, base_path: str, policy: str = "", labels: dict[str, int] | None = None
) -> model_server_config_pb2.ModelServerConfig:
    """A one-model ModelServerConfig (text format policy, e.g. 'specific { versions: 1 }')."""
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = name
    model.base_path = base_path
    model.model_platform = "tensorflow"
    if policy:
        text_format.Parse(policy, model.model_version_policy)
    for label, version in (labels or {}).items():
        model.version_labels[label] = version
    return config
