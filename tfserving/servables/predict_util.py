"""Predict on a bundle: validate inputs against the signature, run, encode outputs.

Mirrors TF Serving's predict_util.cc: the same checks in the same order, with the
same messages where clients may rely on them, plus explicit dtype and shape
checks that name the input and the rule instead of failing deep in the graph.
"""

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from tensorflow_serving.apis import predict_pb2

from tfserving.errors import failed_precondition, invalid_argument
from tfserving.servables.saved_model_bundle import InputSpec, SavedModelBundle, Signature
from tfserving.servables.tensor_codec import dtype_name, to_ndarray, to_proto

DEFAULT_SIGNATURE = "serving_default"


def find_signature(bundle: SavedModelBundle, signature_name: str) -> Signature:
    """The signature a request names (empty: serving_default); FAILED_PRECONDITION if absent."""
    name = signature_name or DEFAULT_SIGNATURE
    signature = bundle.signatures.get(name)
    if signature is None:
        raise failed_precondition(f'Serving signature key "{name}" not found.')
    return signature


def check_input_names(signature: Signature, names: Iterable[str]) -> None:
    """Every signature input given, nothing else (TF Serving's checks and messages)."""
    sent = set(names)
    expected = set(signature.inputs)
    if sent == expected:
        return
    if len(sent) != len(expected):
        extra = ",".join(sorted(sent - expected))
        missing = ",".join(sorted(expected - sent))
        raise invalid_argument(
            f"input size does not match signature: {len(sent)}!={len(expected)} "
            f"len({{{','.join(sorted(sent))}}}) != len({{{','.join(sorted(expected))}}}). "
            f"Sent extra: {{{extra}}}. Missing but required: {{{missing}}}."
        )
    unknown = sorted(sent - expected)[0]
    raise invalid_argument(
        f"input tensor alias not found in signature: {unknown}. Inputs expected to be in "
        f"the set {{{','.join(sorted(expected))}}}."
    )


def check_input_shape(signature: Signature, spec: InputSpec, shape: tuple[int, ...]) -> None:
    """The input's shape fits the signature's (same rank, known dimensions equal)."""
    if not spec.shape_matches(shape):
        raise invalid_argument(
            f"input '{spec.name}' has shape {list(shape)} but signature '{signature.name}' "
            f"expects {list(spec.declared or ())} (-1: any size)"
        )


def check_inputs(signature: Signature, inputs: Mapping[str, np.ndarray]) -> None:
    """Names and shapes of already-typed inputs (the REST API builds them with the right dtype)."""
    check_input_names(signature, inputs)
    for name, array in inputs.items():
        check_input_shape(signature, signature.inputs[name], array.shape)


def output_aliases(signature: Signature, output_filter: Sequence[str]) -> Sequence[str]:
    """The outputs to return: the filter (validated) or every signature output."""
    if not output_filter:
        return signature.output_names
    seen: set[str] = set()
    for alias in output_filter:
        if alias not in signature.signature_def.outputs:
            raise invalid_argument(
                f"output tensor alias not found in signature: {alias} Outputs expected to be "
                f"in the set {{{','.join(signature.output_names)}}}."
            )
        if alias in seen:
            raise invalid_argument(f"duplicate output tensor alias: {alias}")
        seen.add(alias)
    return list(output_filter)


def decode_inputs(
    signature: Signature, request: predict_pb2.PredictRequest
) -> dict[str, np.ndarray]:
    """The request's input TensorProtos as numpy arrays, checked against the signature."""
    specs = signature.inputs
    arrays: dict[str, np.ndarray] = {}
    for name, proto in request.inputs.items():
        spec = specs.get(name)
        if spec is None:
            break
        if proto.dtype != spec.dtype_enum:
            raise invalid_argument(
                f"Expects arg '{name}' to be {dtype_name(spec.dtype_enum)} but "
                f"{dtype_name(proto.dtype)} is provided"
            )
        array = to_ndarray(proto, name, spec.dtype)
        check_input_shape(signature, spec, array.shape)
        arrays[name] = array
    if len(arrays) != len(specs) or len(request.inputs) != len(specs):
        check_input_names(signature, request.inputs)
    return arrays


def predict_arrays(
    bundle: SavedModelBundle,
    signature_name: str,
    inputs: Mapping[str, np.ndarray],
    output_filter: Sequence[str] = (),
) -> tuple[str, dict[str, np.ndarray]]:
    """Run typed numpy inputs (REST); return the signature name used and the outputs."""
    signature = find_signature(bundle, signature_name)
    check_inputs(signature, inputs)
    aliases = output_aliases(signature, output_filter)
    return signature.name, bundle.session.run(signature.name, inputs, aliases)


def run_predict(
    bundle: SavedModelBundle, request: predict_pb2.PredictRequest
) -> predict_pb2.PredictResponse:
    """Answer a PredictRequest on `bundle` (gRPC and warmup)."""
    signature = find_signature(bundle, request.model_spec.signature_name)
    inputs = decode_inputs(signature, request)
    aliases = output_aliases(signature, request.output_filter)
    outputs = bundle.session.run(signature.name, inputs, aliases)
    response = predict_pb2.PredictResponse()
    spec = response.model_spec
    spec.name = request.model_spec.name
    spec.version.value = bundle.id.version
    spec.signature_name = signature.name
    for alias in aliases:
        to_proto(outputs[alias], response.outputs[alias])
    return response
