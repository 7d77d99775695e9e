"""Classify, Regress and MultiInference on models that have such signatures.

These APIs take `tf.Example`s and need a signature whose method_name is
`tensorflow/serving/classify` or `tensorflow/serving/regress`, with one string
input `inputs` (the serialized examples) and the outputs `classes`/`scores` or
`outputs`. A model without such a signature (the covertype model has predict
signatures only) answers UNIMPLEMENTED.
"""

from collections.abc import Sequence

import numpy as np
from tensorflow_serving.apis import (
    classification_pb2,
    inference_pb2,
    input_pb2,
    model_pb2,
    regression_pb2,
)

from tfserving.errors import invalid_argument, unimplemented
from tfserving.servables.predict_util import find_signature
from tfserving.servables.saved_model_bundle import SavedModelBundle

CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
INPUTS = "inputs"
CLASSES = "classes"
SCORES = "scores"
OUTPUTS = "outputs"


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


def _signature(bundle: SavedModelBundle, spec: model_pb2.ModelSpec, api: str, method: str) -> str:
    found = find_signature(bundle, spec.signature_name)
    name, signature = found.name, found.signature_def
    if signature.method_name != method:
        raise unimplemented(
            f'{api} needs a signature with method_name {method}; signature "{name}" of model '
            f"{bundle.id.name} version {bundle.id.version} has method_name "
            f"{signature.method_name or '(none)'}"
        )
    if set(signature.inputs) != {INPUTS}:
        raise invalid_argument(f'{api} signature "{name}" must have exactly one input "{INPUTS}"')
    return name


def _fill_spec(target: model_pb2.ModelSpec, bundle: SavedModelBundle, signature: str) -> None:
    target.name = bundle.id.name
    target.version.value = bundle.id.version
    target.signature_name = signature


def _label(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def classify(
    bundle: SavedModelBundle, spec: model_pb2.ModelSpec, request_input: input_pb2.Input
) -> tuple[str, classification_pb2.ClassificationResult]:
    """Run a classification signature; return its name and the result."""
    name = _signature(bundle, spec, "Classify", CLASSIFY_METHOD)
    signature = bundle.signature_defs[name]
    wanted = [output for output in (CLASSES, SCORES) if output in signature.outputs]
    if not wanted:
        raise invalid_argument(
            f'Classify signature "{name}" has neither a "{CLASSES}" nor a "{SCORES}" output'
        )
    examples = serialized_examples(request_input)
    outputs = bundle.session.run(name, {INPUTS: examples}, wanted)
    classes = outputs.get(CLASSES)
    scores = outputs.get(SCORES)
    result = classification_pb2.ClassificationResult()
    for row in range(len(examples)):
        classifications = result.classifications.add()
        width = (classes if classes is not None else scores).shape[1]
        for column in range(width):
            entry = classifications.classes.add()
            if classes is not None:
                entry.label = _label(classes[row, column])
            if scores is not None:
                entry.score = float(scores[row, column])
    return name, result


def regress(
    bundle: SavedModelBundle, spec: model_pb2.ModelSpec, request_input: input_pb2.Input
) -> tuple[str, regression_pb2.RegressionResult]:
    """Run a regression signature; return its name and the result."""
    name = _signature(bundle, spec, "Regress", REGRESS_METHOD)
    if OUTPUTS not in bundle.signature_defs[name].outputs:
        raise invalid_argument(f'Regress signature "{name}" has no "{OUTPUTS}" output')
    examples = serialized_examples(request_input)
    values = bundle.session.run(name, {INPUTS: examples}, [OUTPUTS])[OUTPUTS]
    result = regression_pb2.RegressionResult()
    for value in values.reshape(len(examples), -1)[:, 0]:
        result.regressions.add().value = float(value)
    return name, result


def run_classify(
    bundle: SavedModelBundle, request: classification_pb2.ClassificationRequest
) -> classification_pb2.ClassificationResponse:
    """Answer a ClassificationRequest."""
    name, result = classify(bundle, request.model_spec, request.input)
    response = classification_pb2.ClassificationResponse()
    _fill_spec(response.model_spec, bundle, name)
    response.result.CopyFrom(result)
    return response


def run_regress(
    bundle: SavedModelBundle, request: regression_pb2.RegressionRequest
) -> regression_pb2.RegressionResponse:
    """Answer a RegressionRequest."""
    name, result = regress(bundle, request.model_spec, request.input)
    response = regression_pb2.RegressionResponse()
    _fill_spec(response.model_spec, bundle, name)
    response.result.CopyFrom(result)
    return response


def check_multi_inference_tasks(tasks: Sequence[inference_pb2.InferenceTask]) -> None:
    """TF Serving's rules: at least one task, one model, distinct signatures, known methods."""
    if not tasks:
        raise invalid_argument("Expected at least one task")
    names = {task.model_spec.name for task in tasks}
    if len(names) != 1:
        raise invalid_argument(
            "All ModelSpecs in a MultiInferenceRequest must access the same model name"
        )
    signatures = [task.model_spec.signature_name for task in tasks]
    if len(set(signatures)) != len(signatures):
        raise invalid_argument("Duplicate evaluation of signature in MultiInferenceRequest")
    for task in tasks:
        if task.method_name not in (CLASSIFY_METHOD, REGRESS_METHOD):
            raise unimplemented(f"Unsupported signature method_name: {task.method_name}")


def run_multi_inference(
    bundle: SavedModelBundle, request: inference_pb2.MultiInferenceRequest
) -> inference_pb2.MultiInferenceResponse:
    """Answer a MultiInferenceRequest: each task on the same examples."""
    check_multi_inference_tasks(request.tasks)
    response = inference_pb2.MultiInferenceResponse()
    for task in request.tasks:
        result = response.results.add()
        if task.method_name == CLASSIFY_METHOD:
            name, classification = classify(bundle, task.model_spec, request.input)
            result.classification_result.CopyFrom(classification)
        else:
            name, regression = regress(bundle, task.model_spec, request.input)
            result.regression_result.CopyFrom(regression)
        _fill_spec(result.model_spec, bundle, name)
    return response
