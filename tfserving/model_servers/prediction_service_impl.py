"""The gRPC PredictionService: Predict, GetModelMetadata, Classify, Regress, MultiInference.

Implements the official `tensorflow_serving.apis` servicer. As in TF Serving, each
run is bounded by the call's deadline (RunOptions.timeout_in_ms), and Predict
outputs go in the typed fields or in tensor_content as the server is configured.
Errors become the gRPC status TF Serving would answer; an unexpected exception
becomes INTERNAL and is logged, so no request can take the server down.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import grpc
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    inference_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from tfserving.model_servers.get_model_metadata_impl import get_model_metadata
from tfserving.model_servers.grpc_status_util import Response, respond
from tfserving.model_servers.server_core import ServerCore
from tfserving.monitoring import Metrics
from tfserving.servables.classification_regression import (
    InferenceOptions,
    check_multi_inference_tasks,
    run_classify,
    run_multi_inference,
    run_regress,
)
from tfserving.servables.predict_util import run_predict
from tfserving.servables.tensor_codec import TensorEncoding


@dataclass(frozen=True)
class PredictionServiceOptions:
    """How outputs are encoded and how Classify/Regress pick their signatures."""

    encoding: TensorEncoding = TensorEncoding.PROTO_FIELD
    method_name_check: bool = False


def deadline_timeout_in_ms(context: grpc.ServicerContext) -> int:
    """The call's remaining time as a Session run timeout (0: no deadline)."""
    remaining = context.time_remaining()
    if remaining is None or remaining > 2**31 / 1000:
        return 0
    return max(int(remaining * 1000), 1)


class PredictionServiceImpl(prediction_service_pb2_grpc.PredictionServiceServicer):
    """TF Serving's PredictionService on a ServerCore."""

    def __init__(
        self, core: ServerCore, metrics: Metrics, options: PredictionServiceOptions
    ) -> None:
        self._core = core
        self._metrics = metrics
        self._options = options
        self._inference = InferenceOptions(method_name_check=options.method_name_check)

    def _call(
        self,
        api: str,
        request: Any,
        context: grpc.ServicerContext,
        empty: Response,
        run: Callable[..., Response],
    ) -> Response:
        started = time.perf_counter()
        versions: list[int] = []

        def work() -> Response:
            bundle = self._core.servable_handle(request.model_spec)
            versions.append(bundle.id.version)
            return run(bundle, request, deadline_timeout_in_ms(context))

        response, code = respond(context, empty, work)
        self._metrics.record_request(
            request.model_spec.name,
            api,
            "GRPC",
            code.name,
            (time.perf_counter() - started) * 1e6,
            versions[0] if versions else None,
        )
        return response

    def _options_with(self, timeout_in_ms: int) -> InferenceOptions:
        return replace(self._inference, timeout_in_ms=timeout_in_ms)

    def Predict(
        self, request: predict_pb2.PredictRequest, context: grpc.ServicerContext
    ) -> predict_pb2.PredictResponse:
        """Run a signature on named input tensors."""
        encoding = self._options.encoding
        return self._call(
            "Predict",
            request,
            context,
            predict_pb2.PredictResponse(),
            lambda bundle, request, timeout: run_predict(bundle, request, encoding, timeout),
        )

    def Classify(
        self, request: classification_pb2.ClassificationRequest, context: grpc.ServicerContext
    ) -> classification_pb2.ClassificationResponse:
        """Classify tf.Examples with a classification-shaped signature."""
        return self._call(
            "Classify",
            request,
            context,
            classification_pb2.ClassificationResponse(),
            lambda bundle, request, timeout: run_classify(
                bundle, request, self._options_with(timeout)
            ),
        )

    def Regress(
        self, request: regression_pb2.RegressionRequest, context: grpc.ServicerContext
    ) -> regression_pb2.RegressionResponse:
        """Regress tf.Examples with a regression-shaped signature."""
        return self._call(
            "Regress",
            request,
            context,
            regression_pb2.RegressionResponse(),
            lambda bundle, request, timeout: run_regress(
                bundle, request, self._options_with(timeout)
            ),
        )

    def MultiInference(
        self, request: inference_pb2.MultiInferenceRequest, context: grpc.ServicerContext
    ) -> inference_pb2.MultiInferenceResponse:
        """Several classify/regress tasks on the same examples and model."""

        def work() -> inference_pb2.MultiInferenceResponse:
            check_multi_inference_tasks(request.tasks)
            bundle = self._core.servable_handle(request.tasks[0].model_spec)
            options = self._options_with(deadline_timeout_in_ms(context))
            return run_multi_inference(bundle, request, options)

        return respond(context, inference_pb2.MultiInferenceResponse(), work)[0]

    def GetModelMetadata(
        self, request: get_model_metadata_pb2.GetModelMetadataRequest, context: grpc.ServicerContext
    ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        """The signature defs of the version the request names."""
        return respond(
            context,
            get_model_metadata_pb2.GetModelMetadataResponse(),
            lambda: get_model_metadata(self._core, request),
        )[0]
