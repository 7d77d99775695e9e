"""Running the warmup requests the way TensorFlow Serving runs them, to refuse what it would.

TF Serving loads a SavedModel with the TF1 loader (graph, restore op, init op) and
runs requests through a Session; the local server runs the same SavedModel through
`tf.saved_model.load`, which also accepts models TF Serving cannot run (e.g. a
`tf.Module` holding a Keras 3 model: its variables are never restored in a
Session, and every call fails with "Could not find variable"). Replaying the
warmup requests through a throwaway Session at load time makes such a version
fail to load here exactly as it fails in TF Serving.
"""

from collections.abc import Iterator, Sequence
from pathlib import Path

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from tfserving.errors import ServingError
from tfserving.servables.classification_regression import INPUTS, serialized_examples
from tfserving.servables.predict_util import DEFAULT_SIGNATURE
from tfserving.servables.saved_model_bundle import SERVE_TAG
from tfserving.servables.signature_runner import runtime_error
from tfserving.servables.tensor_codec import to_ndarray

Feeds = tuple[str, dict[str, np.ndarray]]


def check_runs_in_session(
    export_dir: Path, logs: Sequence[prediction_log_pb2.PredictionLog]
) -> None:
    """Load `export_dir` as TF Serving does and run every logged request; raise on failure."""
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        try:
            meta_graph = tf.compat.v1.saved_model.loader.load(session, [SERVE_TAG], str(export_dir))
        except tf.errors.OpError as error:
            raise runtime_error(error) from error
        except (OSError, RuntimeError, ValueError) as error:
            raise ServingError(
                grpc.StatusCode.UNKNOWN, f"TF1 SavedModel loader: {error}"
            ) from error
        for log in logs:
            for signature_name, inputs in _requests(log):
                signature = meta_graph.signature_def.get(signature_name)
                if signature is None:
                    continue  # the local runtime reports the missing signature itself
                feeds = {
                    signature.inputs[alias].name: array
                    for alias, array in inputs.items()
                    if alias in signature.inputs
                }
                fetches = [info.name for info in signature.outputs.values()]
                try:
                    session.run(fetches, feeds)
                except tf.errors.OpError as error:
                    raise runtime_error(error) from error


def _requests(log: prediction_log_pb2.PredictionLog) -> Iterator[Feeds]:
    """(signature name, inputs) of each request a PredictionLog holds."""
    kind = log.WhichOneof("log_type")
    if kind == "predict_log":
        request = log.predict_log.request
        yield (
            request.model_spec.signature_name or DEFAULT_SIGNATURE,
            {alias: to_ndarray(proto, alias) for alias, proto in request.inputs.items()},
        )
    elif kind in ("classify_log", "regress_log"):
        request = getattr(log, kind).request
        yield (
            request.model_spec.signature_name or DEFAULT_SIGNATURE,
            {INPUTS: serialized_examples(request.input)},
        )
    elif kind == "multi_inference_log":
        request = log.multi_inference_log.request
        examples = serialized_examples(request.input)
        for task in request.tasks:
            yield task.model_spec.signature_name or DEFAULT_SIGNATURE, {INPUTS: examples}
