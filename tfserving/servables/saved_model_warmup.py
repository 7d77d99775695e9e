"""Model warmup: replay `assets.extra/tf_serving_warmup_requests` before serving a version.

The file is a TFRecord of `tensorflow.serving.PredictionLog`s, as in TF Serving
(predict, classify, regress and multi-inference logs). Each logged request runs
`num_request_iterations` times through the bundle's session (batching included),
so the first real request finds the Session's executors built and warm. Any
failure fails the load (a model TF Serving cannot run, e.g. a `tf.Module` holding
a Keras 3 model whose variables a Session never restores, fails here as it fails
there). At most 1000 records are allowed.
"""

import time
from collections.abc import Callable
from pathlib import Path

import grpc
import tensorflow as tf
from google.protobuf import message
from tensorflow_serving.apis import prediction_log_pb2

from covertype import defaults
from tfserving.errors import ServingError, invalid_argument, unimplemented
from tfserving.monitoring import Metrics
from tfserving.servables.classification_regression import (
    DEFAULT_INFERENCE,
    InferenceOptions,
    run_classify,
    run_multi_inference,
    run_regress,
)
from tfserving.servables.predict_util import run_predict
from tfserving.servables.runtime_errors import runtime_error
from tfserving.servables.saved_model_bundle import SavedModelBundle

MAX_NUM_RECORDS = 1000


def run_saved_model_warmup(
    bundle: SavedModelBundle,
    num_request_iterations: int,
    metrics: Metrics,
    options: InferenceOptions = DEFAULT_INFERENCE,
) -> int:
    """Replay the bundle's warmup requests; return how many records were read."""
    path = bundle.path / defaults.ASSETS_EXTRA / defaults.WARMUP_FILE
    if not path.exists():
        return 0
    started = time.monotonic()
    status = "OK"
    try:
        logs = read_warmup_logs(path)
        for log in logs:
            replay = _replayer(log, path, options)
            for _ in range(max(num_request_iterations, 1)):
                replay(bundle)
    except ServingError as error:
        status = error.code.name
        raise
    finally:
        metrics.observe_warmup(str(bundle.path), status, (time.monotonic() - started) * 1e6)
    return len(logs)


def read_warmup_logs(path: Path) -> list[prediction_log_pb2.PredictionLog]:
    """The PredictionLogs of a warmup file (TFRecord), at most MAX_NUM_RECORDS."""
    logs = []
    try:
        for record in tf.data.TFRecordDataset(str(path)):
            if len(logs) == MAX_NUM_RECORDS:
                raise invalid_argument(
                    f"Number of warmup records exceeds the maximum ({MAX_NUM_RECORDS}) at {path}"
                )
            logs.append(_parse(record.numpy(), path))
    except tf.errors.DataLossError as error:
        raise ServingError(
            grpc.StatusCode.DATA_LOSS,
            f"{runtime_error(error).message}. Please verify your warmup data is in TFRecord "
            "format.",
        ) from error
    except tf.errors.OpError as error:
        raise runtime_error(error) from error
    return logs


def _replayer(
    log: prediction_log_pb2.PredictionLog, path: object, options: InferenceOptions
) -> Callable[[SavedModelBundle], object]:
    kind = log.WhichOneof("log_type")
    if kind == "predict_log":
        return lambda bundle: run_predict(bundle, log.predict_log.request)
    if kind == "classify_log":
        return lambda bundle: run_classify(bundle, log.classify_log.request, options)
    if kind == "regress_log":
        return lambda bundle: run_regress(bundle, log.regress_log.request, options)
    if kind == "multi_inference_log":
        return lambda bundle: run_multi_inference(bundle, log.multi_inference_log.request, options)
    raise unimplemented(f"Unsupported log_type for warmup: {kind} in {path}")


def _parse(record: bytes, path: object) -> prediction_log_pb2.PredictionLog:
    log = prediction_log_pb2.PredictionLog()
    try:
        log.ParseFromString(record)
    except message.DecodeError as error:
        raise invalid_argument(f"Failed to parse warmup record from {path}") from error
    return log
