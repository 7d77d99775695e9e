"""The slim client reaches the servicers that TF Serving's official generated code registers.

An in-process gRPC server registers handlers with the official `*_pb2_grpc` helpers
(so the method paths are TF Serving's own); the gateway's client calls it with slim
messages and must get the official answers back, with its request id as metadata.
"""

import asyncio
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from tensorflow_serving.apis import get_model_status_pb2 as official_status
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import predict_pb2 as official_predict
from tensorflow_serving.apis import prediction_service_pb2_grpc as official_services

from gateway.model_client import ModelServerClient
from protos.slim import get_model_status_pb2, predict_pb2


class _Servicers(
    official_services.PredictionServiceServicer, model_service_pb2_grpc.ModelServiceServicer
):
    """Answers from the request it got, and remembers the metadata it saw."""

    def __init__(self) -> None:
        self.request_ids: list[str] = []

    def _remember(self, context: grpc.ServicerContext) -> None:
        self.request_ids.extend(v for k, v in context.invocation_metadata() if k == "x-request-id")

    def Predict(self, request, context):
        self._remember(context)
        response = official_predict.PredictResponse()
        response.model_spec.CopyFrom(request.model_spec)
        response.model_spec.version.value = 42
        response.outputs["echo"].CopyFrom(request.inputs["features"])
        return response

    def GetModelStatus(self, request, context):
        self._remember(context)
        response = official_status.GetModelStatusResponse()
        entry = response.model_version_status.add(version=7)
        entry.state = official_status.ModelVersionStatus.AVAILABLE
        return response


@pytest.fixture
def official_server() -> Iterator[tuple[str, _Servicers]]:
    servicers = _Servicers()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    official_services.add_PredictionServiceServicer_to_server(servicers, server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(servicers, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", servicers
    finally:
        server.stop(grace=None)


def test_slim_client_calls_the_official_method_paths(
    official_server: tuple[str, _Servicers],
) -> None:
    target, servicers = official_server

    async def calls() -> tuple[
        predict_pb2.PredictResponse, get_model_status_pb2.GetModelStatusResponse
    ]:
        client = ModelServerClient(target, timeout_seconds=10)
        try:
            request = predict_pb2.PredictRequest()
            request.model_spec.name = "covertype"
            request.model_spec.version_label = "stable"
            request.inputs["features"].tensor_content = b"\x00\x00\x80\x3f"
            predicted = await client.predict(request, ["req-1"])
            status = await client.get_model_status("covertype", "req-2")
            return predicted, status
        finally:
            await client.close()

    predicted, status = asyncio.run(calls())
    assert predicted.model_spec.name == "covertype"
    assert predicted.model_spec.version.value == 42
    assert predicted.outputs["echo"].tensor_content == b"\x00\x00\x80\x3f"
    assert [(s.version, s.state) for s in status.model_version_status] == [
        (7, get_model_status_pb2.ModelVersionStatus.AVAILABLE)
    ]
    assert servicers.request_ids == ["req-1", "req-2"]
