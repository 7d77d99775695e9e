"""From validated rows to a PredictRequest, and from a PredictResponse to domain predictions.

The gateway calls the `predict_matrix` signature: one `[n, 54]` float32 input in
`tensor_content`. Compared with `serving_default` (54 named `[n]` inputs) that is one
map entry and one tensor to encode, send and convert on each side instead of 54,
which is what keeps the per-request cost flat.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from covertype import defaults, schema
from gateway.tensors import TensorDecodeError, flat_values, float_matrix, shape_of
from protos.slim import model_pb2, predict_pb2

WIDTH = len(schema.FEATURE_COLUMNS)
_CLASS_IDS = tuple(sorted(schema.CLASS_NAMES))
_CLASSES = frozenset(_CLASS_IDS)


class BadModelResponse(ValueError):
    """The model server answered, but not with what the SavedModel contract promises."""


class UnscorableInstances(ValueError):
    """The model gave non-finite probabilities for these instances (indexes in the request)."""

    def __init__(self, instances: Sequence[int]) -> None:
        super().__init__(f"no finite prediction for instances {list(instances)}")
        self.instances = tuple(instances)


@dataclass(frozen=True)
class VersionChoice:
    """Which version to ask for: a number, a label, or neither (the latest available)."""

    version: int | None = None
    label: str | None = None

    def apply(self, spec: model_pb2.ModelSpec) -> None:
        """Set the oneof `version_choice` of `spec`."""
        if self.version is not None:
            spec.version.value = self.version
        elif self.label is not None:
            spec.version_label = self.label


@dataclass(frozen=True)
class Prediction:
    """One instance's answer: class id, class name, and every class's probability."""

    cover_type: int
    probabilities: tuple[float, ...]  # in class-id order 1..7

    def as_json(self) -> dict[str, object]:
        return {
            "cover_type": self.cover_type,
            "cover_type_name": schema.CLASS_NAMES[self.cover_type],
            "probabilities": {
                schema.CLASS_NAMES[class_id]: probability
                for class_id, probability in zip(_CLASS_IDS, self.probabilities, strict=True)
            },
        }


@dataclass(frozen=True)
class PredictOutcome:
    """The predictions and the version that made them (from the response's model_spec).

    `unscorable` lists the rows whose probabilities are not finite numbers (their
    `predictions` entries must not be used).
    """

    model_name: str
    model_version: int
    predictions: list[Prediction]
    unscorable: tuple[int, ...] = ()

    def rows(self, start: int, end: int) -> "PredictOutcome":
        """The outcome of rows `start..end-1` alone (one request of a shared call)."""
        return PredictOutcome(
            self.model_name,
            self.model_version,
            self.predictions[start:end],
            tuple(row - start for row in self.unscorable if start <= row < end),
        )


def build_request(
    rows: Sequence[Sequence[float]], model_name: str, choice: VersionChoice
) -> predict_pb2.PredictRequest:
    """A PredictRequest for the matrix signature carrying `rows`."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = defaults.MATRIX_SIGNATURE
    choice.apply(request.model_spec)
    request.inputs[defaults.MATRIX_INPUT].CopyFrom(float_matrix(rows, WIDTH))
    return request


def read_response(
    response: predict_pb2.PredictResponse, count: int, model_name: str
) -> PredictOutcome:
    """Check the response against the SavedModel contract and turn it into predictions.

    `model_name` is used only when the response's model_spec leaves the name empty.
    """
    outputs = response.outputs
    for name in (defaults.OUTPUT_COVER_TYPE, defaults.OUTPUT_PROBABILITIES):
        if name not in outputs:
            raise BadModelResponse(f"the response has no output {name!r}")
    if not response.model_spec.HasField("version"):
        raise BadModelResponse("the response's model_spec names no version")
    classes_tensor = outputs[defaults.OUTPUT_COVER_TYPE]
    probabilities_tensor = outputs[defaults.OUTPUT_PROBABILITIES]
    if shape_of(classes_tensor) != (count,):
        raise BadModelResponse(f"cover_type has shape {shape_of(classes_tensor)}, not ({count},)")
    expected = (count, schema.NUM_CLASSES)
    if shape_of(probabilities_tensor) != expected:
        raise BadModelResponse(
            f"probabilities has shape {shape_of(probabilities_tensor)}, not {expected}"
        )
    try:
        classes = flat_values(classes_tensor)
        probabilities = flat_values(probabilities_tensor)
    except TensorDecodeError as error:
        raise BadModelResponse(str(error)) from error
    width = schema.NUM_CLASSES
    unscorable: tuple[int, ...] = ()
    if not all(map(math.isfinite, probabilities)):
        unscorable = tuple(
            row
            for row in range(count)
            if not all(map(math.isfinite, probabilities[row * width : (row + 1) * width]))
        )
    unknown = sorted({int(c) for i, c in enumerate(classes) if i not in unscorable} - _CLASSES)
    if unknown:
        raise BadModelResponse(f"cover_type values {unknown} are not classes 1..7")
    predictions = [
        Prediction(int(cover_type), tuple(probabilities[i * width : (i + 1) * width]))
        for i, cover_type in enumerate(classes)
    ]
    return PredictOutcome(
        model_name=response.model_spec.name or model_name,
        model_version=response.model_spec.version.value,
        predictions=predictions,
        unscorable=unscorable,
    )
