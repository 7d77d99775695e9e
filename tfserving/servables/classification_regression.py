"""Classify, Regress and MultiInference on tf.Examples, as TF Serving's classifier.cc,
regressor.cc and multi_inference.cc answer them.

A signature serves Classify if it has one input `inputs` (the serialized examples)
and outputs `classes` and/or `scores`; Regress if it has one input `inputs` and one
output `outputs`. Its method_name only matters with
`--enable_signature_method_name_check` (TF Serving's default is off, so a TF2
export, whose signatures all say `tensorflow/serving/predict`, serves Classify and
Regress). Every refusal is INVALID_ARGUMENT with TF Serving's message.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    inference_pb2,
    input_pb2,
    model_pb2,
    regression_pb2,
)

from tfserving.errors import failed_precondition, invalid_argument, unimplemented
from tfserving.servables.predict_util import DEFAULT_SIGNATURE
from tfserving.servables.saved_model_bundle import SavedModelBundle
from tfserving.servables.tensor_codec import dtype_enum

CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
INPUTS = "inputs"
CLASSES = "classes"
SCORES = "scores"
OUTPUTS = "outputs"
_DT_FLOAT = types_pb2.DT_FLOAT
_DT_STRING = types_pb2.DT_STRING


@dataclass(frozen=True)
class InferenceOptions:
    """TF Serving's --enable_signature_method_name_check and the run's timeout."""

    method_name_check: bool = False
    timeout_in_ms: int = 0


DEFAULT_INFERENCE = InferenceOptions()


def serialized_examples(request_input: input_pb2.Input) -> np.ndarray:
    """The request's examples serialized, the context prepended to each (as TF Serving does)."""
    kind = request_input.WhichOneof("kind")
    if kind == "example_list":
        examples = [e.SerializeToString() for e in request_input.example_list.examples]
    elif kind == "example_list_with_context":
        with_context = request_input.example_list_with_context
        context = with_context.context.SerializeToString()
        examples = [context + e.SerializeToString() for e in with_context.examples]
    else:
        examples = []
    if not examples:
        raise invalid_argument("Input is empty.")
    array = np.empty(len(examples), dtype=object)
    array[:] = examples
    return array


def _debug_string(signature: meta_graph_pb2.SignatureDef) -> str:
    return str(signature)


def check_classification_signature(signature: meta_graph_pb2.SignatureDef) -> list[str]:
    """TF Serving's PreProcessClassification: the outputs to fetch (classes, then scores)."""
    if len(signature.inputs) != 1:
        raise invalid_argument("Expected one input Tensor.")
    if len(signature.outputs) not in (1, 2):
        raise invalid_argument(
            f"Expected one or two output Tensors, found {len(signature.outputs)}"
        )
    if INPUTS not in signature.inputs:
        raise invalid_argument(
            f"No classification inputs found in SignatureDef: {_debug_string(signature)}"
        )
    outputs = [name for name in (CLASSES, SCORES) if name in signature.outputs]
    if not outputs:
        raise invalid_argument(
            f'Expected classification signature outputs to contain at least one of "{CLASSES}" '
            f'or "{SCORES}". Signature was: {_debug_string(signature)}'
        )
    return outputs


def check_regression_signature(signature: meta_graph_pb2.SignatureDef) -> list[str]:
    """TF Serving's PreProcessRegression: the output to fetch."""
    if len(signature.inputs) != 1:
        raise invalid_argument("Expected one input Tensor.")
    if len(signature.outputs) != 1:
        raise invalid_argument("Expected one output Tensor.")
    if INPUTS not in signature.inputs:
        raise invalid_argument(
            f"No regression inputs found in SignatureDef: {_debug_string(signature)}"
        )
    if OUTPUTS not in signature.outputs:
        raise invalid_argument(
            f"No regression outputs found in SignatureDef: {_debug_string(signature)}"
        )
    return [OUTPUTS]


def _find(
    bundle: SavedModelBundle, spec: model_pb2.ModelSpec, method: str, options: InferenceOptions
) -> tuple[str, list[str]]:
    """The signature a Classify or Regress request names, checked; and its outputs."""
    name = spec.signature_name or DEFAULT_SIGNATURE
    signature = bundle.signature_defs.get(name)
    if signature is None:
        raise invalid_argument(f"No signature was found with the name: {name}")
    kind = "classification" if method == CLASSIFY_METHOD else "regression"
    if options.method_name_check and signature.method_name != method:
        raise invalid_argument(
            f"Expected {kind} signature method_name to be {method}. Was: {signature.method_name}"
        )
    if method == CLASSIFY_METHOD:
        return name, check_classification_signature(signature)
    return name, check_regression_signature(signature)


def classification_result(
    outputs: Mapping[str, np.ndarray], num_examples: int
) -> classification_pb2.ClassificationResult:
    """TF Serving's PostProcessClassificationResult."""
    classes = outputs.get(CLASSES)
    scores = outputs.get(SCORES)
    for name, array, dtype in ((CLASSES, classes, _DT_STRING), (SCORES, scores, _DT_FLOAT)):
        if array is None:
            continue
        if array.ndim != 2:
            raise invalid_argument(
                f"Expected Tensor shape: [batch_size num_classes] but got {_shape(array)}"
            )
        if dtype_enum(array.dtype) != dtype:
            raise invalid_argument(
                f"Expected {name} Tensor of {types_pb2.DataType.Name(dtype)}. Got: "
                f"{_dt_name(array)}"
            )
        if array.shape[0] != num_examples:
            raise invalid_argument(
                f"Expected {name} output batch size of {num_examples}. Got: {array.shape[0]}"
            )
    if classes is not None and scores is not None and classes.shape[1] != scores.shape[1]:
        raise invalid_argument(
            "Tensors class and score should match in dim_size(1). Got "
            f"{classes.shape[1]} vs. {scores.shape[1]}"
        )
    width = (classes if classes is not None else scores).shape[1]
    result = classification_pb2.ClassificationResult()
    score_rows = scores.tolist() if scores is not None else None
    for row in range(num_examples):
        classifications = result.classifications.add()
        for column in range(width):
            entry = classifications.classes.add()
            if classes is not None:
                entry.label = _label(classes[row, column])
            if score_rows is not None:
                entry.score = score_rows[row][column]
    return result


def regression_result(
    outputs: Mapping[str, np.ndarray], num_examples: int
) -> regression_pb2.RegressionResult:
    """TF Serving's PostProcessRegressionResult."""
    values = outputs.get(OUTPUTS)
    if values is None:
        raise failed_precondition("No regression outputs found in SignatureDef")
    if not (values.ndim == 1 or (values.ndim == 2 and values.shape[1] == 1)):
        raise invalid_argument(
            "Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but got "
            f"{_shape(values)}"
        )
    if values.shape[0] != num_examples:
        raise invalid_argument(
            "Input batch size did not match output batch size: "
            f"{num_examples} vs. {values.shape[0]}"
        )
    if values.dtype != np.float32:
        raise invalid_argument(f"Expected output Tensor of DT_FLOAT.  Got: {_dt_name(values)}")
    result = regression_pb2.RegressionResult()
    for value in values.reshape(-1).tolist():
        result.regressions.add().value = value
    return result


def classify(
    bundle: SavedModelBundle,
    spec: model_pb2.ModelSpec,
    request_input: input_pb2.Input,
    options: InferenceOptions,
) -> tuple[str, classification_pb2.ClassificationResult]:
    """Run a classification signature; return its name and the result."""
    name, wanted = _find(bundle, spec, CLASSIFY_METHOD, options)
    examples = serialized_examples(request_input)
    outputs = bundle.session.run(name, {INPUTS: examples}, wanted, options.timeout_in_ms)
    return name, classification_result(outputs, len(examples))


def regress(
    bundle: SavedModelBundle,
    spec: model_pb2.ModelSpec,
    request_input: input_pb2.Input,
    options: InferenceOptions,
) -> tuple[str, regression_pb2.RegressionResult]:
    """Run a regression signature; return its name and the result."""
    name, wanted = _find(bundle, spec, REGRESS_METHOD, options)
    examples = serialized_examples(request_input)
    outputs = bundle.session.run(name, {INPUTS: examples}, wanted, options.timeout_in_ms)
    return name, regression_result(outputs, len(examples))


def _fill_spec(
    target: model_pb2.ModelSpec, bundle: SavedModelBundle, requested: model_pb2.ModelSpec
) -> None:
    """TF Serving's MakeModelSpec: the requested name and signature, the served version."""
    target.name = requested.name
    target.signature_name = requested.signature_name or DEFAULT_SIGNATURE
    target.version.value = bundle.id.version


def run_classify(
    bundle: SavedModelBundle,
    request: classification_pb2.ClassificationRequest,
    options: InferenceOptions = DEFAULT_INFERENCE,
) -> classification_pb2.ClassificationResponse:
    """Answer a ClassificationRequest."""
    _, result = classify(bundle, request.model_spec, request.input, options)
    response = classification_pb2.ClassificationResponse()
    _fill_spec(response.model_spec, bundle, request.model_spec)
    response.result.CopyFrom(result)
    return response


def run_regress(
    bundle: SavedModelBundle,
    request: regression_pb2.RegressionRequest,
    options: InferenceOptions = DEFAULT_INFERENCE,
) -> regression_pb2.RegressionResponse:
    """Answer a RegressionRequest."""
    _, result = regress(bundle, request.model_spec, request.input, options)
    response = regression_pb2.RegressionResponse()
    _fill_spec(response.model_spec, bundle, request.model_spec)
    response.result.CopyFrom(result)
    return response


def check_multi_inference_tasks(tasks: Sequence[inference_pb2.InferenceTask]) -> None:
    """TF Serving's checks that need no model: tasks, one model name, distinct signatures."""
    if not tasks:
        raise invalid_argument("Expected at least one task")
    seen: set[str] = set()
    for task in tasks:
        if not task.model_spec.name:
            raise invalid_argument("Found ModelSpec with an empty model name.")
        if task.model_spec.name != tasks[0].model_spec.name:
            raise invalid_argument(
                "All ModelSpecs in a MultiInferenceRequest must access the same model name."
            )
        signature = task.model_spec.signature_name or DEFAULT_SIGNATURE
        if signature in seen:
            raise invalid_argument(f"Duplicate evaluation of signature: {signature}")
        seen.add(signature)


def run_multi_inference(
    bundle: SavedModelBundle,
    request: inference_pb2.MultiInferenceRequest,
    options: InferenceOptions = DEFAULT_INFERENCE,
) -> inference_pb2.MultiInferenceResponse:
    """Every task on the same examples; all tasks are checked before any runs.

    Each task runs its own signature (TF Serving fetches all of them in one
    Session::Run; the results are the same).
    """
    check_multi_inference_tasks(request.tasks)
    plan = []
    for task in request.tasks:
        name = task.model_spec.signature_name or DEFAULT_SIGNATURE
        signature = bundle.signature_defs.get(name)
        if signature is None:
            raise invalid_argument(f"Requested signature not found in model graph: {name}")
        if task.method_name == CLASSIFY_METHOD:
            wanted = check_classification_signature(signature)
        elif task.method_name == REGRESS_METHOD:
            wanted = check_regression_signature(signature)
        else:
            raise unimplemented(f"Unsupported signature method_name: {task.method_name}")
        plan.append((task, name, wanted))
    examples = serialized_examples(request.input)
    response = inference_pb2.MultiInferenceResponse()
    for task, name, wanted in plan:
        outputs = bundle.session.run(name, {INPUTS: examples}, wanted, options.timeout_in_ms)
        result = response.results.add()
        if task.method_name == CLASSIFY_METHOD:
            result.classification_result.CopyFrom(classification_result(outputs, len(examples)))
        else:
            result.regression_result.CopyFrom(regression_result(outputs, len(examples)))
        _fill_spec(result.model_spec, bundle, task.model_spec)
    return response


def _label(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _shape(array: np.ndarray) -> str:
    return "[" + ",".join(str(d) for d in array.shape) + "]"


def _dt_name(array: np.ndarray) -> str:
    enum = dtype_enum(array.dtype)
    return types_pb2.DataType.Name(enum) if enum is not None else str(array.dtype)
