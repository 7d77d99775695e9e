"""The warmup file TensorFlow Serving replays when it loads a version.

`assets.extra/tf_serving_warmup_requests` is a TFRecord file of `PredictionLog` messages;
each `predict_log.request` is a `PredictRequest` for `serving_default` with real rows.
"""

from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

from covertype.defaults import DEFAULT_SIGNATURE, MODEL_NAME
from covertype.schema import FEATURE_COLUMNS


def warmup_batches(features: np.ndarray, labels: np.ndarray) -> list[np.ndarray]:
    """One single-row request per cover type present, then one request with all those rows.

    Single rows are what online clients send; the batch exercises the batched path.
    """
    firsts = [np.flatnonzero(labels == label)[0] for label in np.unique(labels)]
    rows = features[firsts]
    return [rows[i : i + 1] for i in range(len(rows))] + [rows]


def predict_request(rows: np.ndarray, model_name: str = MODEL_NAME) -> predict_pb2.PredictRequest:
    """A `serving_default` PredictRequest carrying `rows` ([n, 54]) as named `[n]` inputs."""
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name, signature_name=DEFAULT_SIGNATURE)
    )
    for i, name in enumerate(FEATURE_COLUMNS):
        request.inputs[name].CopyFrom(tf.make_tensor_proto(rows[:, i].astype(np.float32)))
    return request


def write_warmup_file(path: Path, batches: list[np.ndarray], model_name: str = MODEL_NAME) -> None:
    """Write one PredictionLog per batch of rows to the TFRecord file `path`."""
    with tf.io.TFRecordWriter(str(path)) as writer:
        for rows in batches:
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=predict_request(rows, model_name))
            )
            writer.write(log.SerializeToString())
