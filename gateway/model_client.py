"""A small typed asyncio client for TF Serving's gRPC API, built on the slim messages.

It calls the real method paths, so it talks to `tensorflow_model_server` and to our
compatible server alike. Every call carries a deadline, and the id of each HTTP
request it serves as `x-request-id` metadata (one entry per request).

The target is any gRPC target: `host:port`, `dns:///name:port` (every address the
name resolves to, e.g. a Kubernetes headless Service), `ipv4:a:p1,b:p2`, `unix:path`.
The channel's service config (`SERVICE_CONFIG`) spreads calls over every address
round-robin, skips replicas whose standard gRPC health service says NOT_SERVING
(a server without that service counts as healthy), and retries a call that failed
with UNAVAILABLE (a replica that died or is draining) on another one, within the
call's deadline and a retry budget. The channel reconnects by itself; the reconnect
backoff is capped low so that recovery takes about a second, not gRPC's two minutes.

`while_waiting` is called once the request of each call has been sent, before waiting
for its answer: the gateway does its deferred bookkeeping there (`gateway.deferred`).
"""

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import grpc
from google.protobuf.message import Message

from protos.slim import get_model_status_pb2, predict_pb2

PREDICT_METHOD = "/tensorflow.serving.PredictionService/Predict"
GET_MODEL_STATUS_METHOD = "/tensorflow.serving.ModelService/GetModelStatus"
REQUEST_ID_METADATA = "x-request-id"

# gRPC's service config (https://github.com/grpc/grpc/blob/master/doc/service_config.md).
SERVICE_CONFIG: dict[str, object] = {
    "loadBalancingConfig": [{"round_robin": {}}],
    "healthCheckConfig": {"serviceName": ""},
    "methodConfig": [
        {
            "name": [
                {"service": "tensorflow.serving.PredictionService"},
                {"service": "tensorflow.serving.ModelService", "method": "GetModelStatus"},
            ],
            "retryPolicy": {
                "maxAttempts": 3,
                "initialBackoff": "0.02s",
                "maxBackoff": "0.2s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        }
    ],
    # Retries stop while more than half of a 10-token budget is spent (a failure costs
    # one token, a success gives back 0.1): an overloaded or dead fleet is not retried
    # into the ground.
    "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1},
}

CHANNEL_OPTIONS: tuple[tuple[str, int | str], ...] = (
    ("grpc.service_config", json.dumps(SERVICE_CONFIG)),
    # The config above is the gateway's own: ignore any a DNS TXT record offers.
    ("grpc.service_config_disable_resolution", 1),
    ("grpc.enable_retries", 1),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
)

# (method name, gRPC status code name, seconds) after every call, for metrics.
CallObserver = Callable[[str, str, float], None]
# Work to do while a call is in flight.
WhileWaiting = Callable[[], None]

_Response = TypeVar("_Response", bound=Message)


class BackendError(Exception):
    """A gRPC call to the model server failed; `code` is the gRPC status."""

    def __init__(self, method: str, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{method}: {code.name}: {details}")
        self.method = method
        self.code = code
        self.details = details


class ModelServerClient:
    """Calls `Predict` and `GetModelStatus` on the model server replicas behind one target.

    Create it inside the running event loop (grpc.aio binds the channel to it).
    """

    def __init__(
        self,
        target: str,
        timeout_seconds: float,
        observer: CallObserver | None = None,
        while_waiting: WhileWaiting | None = None,
    ) -> None:
        self.target = target
        self.timeout_seconds = timeout_seconds
        self._observer = observer
        self._while_waiting = while_waiting
        self._channel = grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)
        self._predict = self._channel.unary_unary(
            PREDICT_METHOD,
            request_serializer=predict_pb2.PredictRequest.SerializeToString,
            response_deserializer=predict_pb2.PredictResponse.FromString,
        )
        self._get_model_status = self._channel.unary_unary(
            GET_MODEL_STATUS_METHOD,
            request_serializer=get_model_status_pb2.GetModelStatusRequest.SerializeToString,
            response_deserializer=get_model_status_pb2.GetModelStatusResponse.FromString,
        )

    async def predict(
        self,
        request: predict_pb2.PredictRequest,
        request_ids: Sequence[str],
        timeout_seconds: float | None = None,
    ) -> predict_pb2.PredictResponse:
        """`PredictionService.Predict`; raises `BackendError` on any gRPC failure.

        `request_ids`: the ids of the HTTP requests whose rows the call carries.
        """
        return await self._call("Predict", self._predict, request, request_ids, timeout_seconds)

    async def get_model_status(
        self, model_name: str, request_id: str, timeout_seconds: float | None = None
    ) -> get_model_status_pb2.GetModelStatusResponse:
        """`ModelService.GetModelStatus` for every version of `model_name`."""
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = model_name
        return await self._call(
            "GetModelStatus", self._get_model_status, request, [request_id], timeout_seconds
        )

    async def close(self) -> None:
        """Close the channel, cancelling calls in flight."""
        await self._channel.close()

    async def _call(
        self,
        method: str,
        stub: grpc.aio.UnaryUnaryMultiCallable,
        request: Message,
        request_ids: Sequence[str],
        timeout_seconds: float | None,
    ) -> _Response:
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        call = stub(
            request,
            timeout=self.timeout_seconds if timeout_seconds is None else timeout_seconds,
            metadata=tuple((REQUEST_ID_METADATA, rid) for rid in request_ids),
        )
        try:
            if self._while_waiting is not None:
                await asyncio.sleep(0)  # grpc.aio sends the request in the next loop turn
                self._while_waiting()
            return await call
        except grpc.aio.AioRpcError as error:
            code = error.code()
            raise BackendError(method, code, error.details() or "") from error
        except asyncio.CancelledError:
            code = grpc.StatusCode.CANCELLED
            call.cancel()
            raise
        finally:
            if self._observer is not None:
                self._observer(method, code.name, time.perf_counter() - started)
