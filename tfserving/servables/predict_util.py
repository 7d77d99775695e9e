"""Predict on a bundle: check the inputs against the signature, run, encode the outputs.

Mirrors TF Serving's predict_util.cc: the same checks in the same order, with the
same messages where clients may rely on them. Input names and dtypes are checked
here; shapes are not (the graph decides, and its errors come back with the
TensorFlow status it reports, INVALID_ARGUMENT for a tensor that does not fit).
When the graph refuses inputs, the message also names each input whose shape
differs from the one the SignatureDef declares. Signature inputs with a default
value (`SignatureDef.defaults`) may be left out.
"""

from collections.abc import Iterable, Mapping, Sequence

import grpc
import numpy as np
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import predict_pb2

from tfserving.errors import ServingError, failed_precondition, invalid_argument
from tfserving.servables.saved_model_bundle import SavedModelBundle, Signature
from tfserving.servables.tensor_codec import TensorEncoding, dtype_name, to_ndarray, to_proto

DEFAULT_SIGNATURE = "serving_default"


def find_signature(bundle: SavedModelBundle, signature_name: str) -> Signature:
    """The signature a request names (empty: serving_default); FAILED_PRECONDITION if absent."""
    name = signature_name or DEFAULT_SIGNATURE
    signature = bundle.signatures.get(name)
    if signature is None:
        raise failed_precondition(f'Serving signature key "{name}" not found.')
    return signature


def check_input_names(signature: Signature, names: Iterable[str]) -> None:
    """Every signature input given (or defaulted), nothing else: TF Serving's
    VerifyRequestInputsSize, then saved_model::GetInputValues, with their messages."""
    sent = set(names)
    expected = set(signature.input_dtypes)
    if sent == expected:
        return
    defaults = signature.signature_def.defaults
    if len(sent) > len(expected) or (len(sent) < len(expected) and not defaults):
        extra = ",".join(sorted(sent - expected))
        missing = ",".join(sorted(expected - sent))
        raise invalid_argument(
            f"input size does not match signature: {len(sent)}!={len(expected)} "
            f"len({{{','.join(sorted(sent))}}}) != len({{{','.join(sorted(expected))}}}). "
            f"Sent extra: {{{extra}}}. Missing but required: {{{missing}}}."
        )
    for alias in sorted(expected - sent):
        if alias not in defaults:
            feed = signature.signature_def.inputs[alias].name
            raise invalid_argument(
                f"Signature input alias: {alias}(feed name: {feed}) not found in request and no "
                f"default value provided. Inputs expected to be in the request "
                f"{{{','.join(sorted(sent))}}}, or default input alias set: "
                f"{','.join(sorted(defaults))}"
            )
    if sent - expected:
        raise invalid_argument(
            f"Inputs contains invalid name. Used request inputs: "
            f"{','.join(sorted(sent & expected))}, request input: {','.join(sorted(sent))}"
        )


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


def with_defaults(signature: Signature, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`inputs` plus the signature's default value of every input left out."""
    if len(inputs) == len(signature.input_dtypes):
        return inputs
    for name, proto in signature.signature_def.defaults.items():
        if name not in inputs and name in signature.input_dtypes:
            inputs[name] = to_ndarray(proto, name)
    return inputs


def decode_inputs(
    signature: Signature, request: predict_pb2.PredictRequest
) -> dict[str, np.ndarray]:
    """The request's input TensorProtos as numpy arrays, names and dtypes checked."""
    dtypes = signature.input_dtypes
    arrays: dict[str, np.ndarray] = {}
    for name, proto in request.inputs.items():
        expected = dtypes.get(name)
        if expected is None:
            break
        if proto.dtype != expected[0]:
            raise invalid_argument(
                f"Expects arg '{name}' to be {dtype_name(expected[0])} but "
                f"{dtype_name(proto.dtype)} is provided"
            )
        arrays[name] = to_ndarray(proto, name, expected[1])
    if len(arrays) != len(dtypes) or len(request.inputs) != len(dtypes):
        check_input_names(signature, request.inputs)
    return with_defaults(signature, arrays)


def declared_shape(info: meta_graph_pb2.TensorInfo) -> list[int] | None:
    """A SignatureDef tensor's shape, -1 for any size; None if its rank is unknown."""
    if info.tensor_shape.unknown_rank or info.WhichOneof("encoding") != "name":
        return None
    return [dim.size for dim in info.tensor_shape.dim]


def shape_hints(signature: Signature, inputs: Mapping[str, np.ndarray]) -> list[str]:
    """Each input whose shape differs from the SignatureDef's, as a sentence."""
    hints = []
    for name in sorted(inputs):
        info = signature.signature_def.inputs.get(name)
        declared = None if info is None else declared_shape(info)
        shape = list(inputs[name].shape)
        if declared is None:
            continue
        if len(shape) != len(declared) or any(
            d not in (-1, s) for d, s in zip(declared, shape, strict=True)
        ):
            hints.append(
                f"input '{name}' has shape {shape}; signature '{signature.name}' declares "
                f"{declared} (-1: any size)"
            )
    return hints


def run_signature(
    bundle: SavedModelBundle,
    signature: Signature,
    inputs: Mapping[str, np.ndarray],
    aliases: Sequence[str],
    timeout_in_ms: int,
) -> dict[str, np.ndarray]:
    """Run the graph; if it refuses the inputs, say which differ from the SignatureDef."""
    try:
        return bundle.session.run(signature.name, inputs, aliases, timeout_in_ms)
    except ServingError as error:
        refused = error.code == grpc.StatusCode.INVALID_ARGUMENT
        hints = shape_hints(signature, inputs) if refused else []
        if not hints:
            raise
        raise ServingError(error.code, f"{error.message} ({'; '.join(hints)})") from error


def predict_arrays(
    bundle: SavedModelBundle,
    signature_name: str,
    inputs: dict[str, np.ndarray],
    output_filter: Sequence[str] = (),
    timeout_in_ms: int = 0,
) -> tuple[str, dict[str, np.ndarray]]:
    """Run typed numpy inputs (REST); return the signature name used and the outputs."""
    signature = find_signature(bundle, signature_name)
    check_input_names(signature, inputs)
    aliases = output_aliases(signature, output_filter)
    outputs = run_signature(
        bundle, signature, with_defaults(signature, inputs), aliases, timeout_in_ms
    )
    return signature.name, outputs


def run_predict(
    bundle: SavedModelBundle,
    request: predict_pb2.PredictRequest,
    encoding: TensorEncoding = TensorEncoding.PROTO_FIELD,
    timeout_in_ms: int = 0,
) -> predict_pb2.PredictResponse:
    """Answer a PredictRequest on `bundle` (gRPC and warmup)."""
    signature = find_signature(bundle, request.model_spec.signature_name)
    inputs = decode_inputs(signature, request)
    aliases = output_aliases(signature, request.output_filter)
    outputs = run_signature(bundle, signature, inputs, aliases, timeout_in_ms)
    response = predict_pb2.PredictResponse()
    spec = response.model_spec
    spec.name = request.model_spec.name
    spec.version.value = bundle.id.version
    spec.signature_name = signature.name
    for alias in aliases:
        to_proto(outputs[alias], response.outputs[alias], encoding)
    return response
