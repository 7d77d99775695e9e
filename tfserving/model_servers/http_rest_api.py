"""TF Serving's v1 REST API, independent of the HTTP server that carries it.

`HttpRestApiHandler.process(method, path, body)` answers like TF Serving's
http_rest_api_handler: the same URL patterns (case-insensitive), status and
metadata as JSON renderings of the gRPC responses, predict in row or columnar
format, classify/regress on tf.Examples, and `{"error": "..."}` with the HTTP
status TF Serving maps each error code to. Each run is bounded by
`--rest_api_timeout_in_ms` (DEADLINE_EXCEEDED, HTTP 504, past it). Predict responses
also carry the version that answered in an `X-Model-Version` header (TF Serving's
body has no version; the header changes nothing for its clients).
"""

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

import grpc
from google.protobuf import json_format
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_pb2,
)

from tfserving.errors import ServingError, internal, invalid_argument
from tfserving.model_servers import json_tensor
from tfserving.model_servers.get_model_metadata_impl import (
    SIGNATURE_DEF_FIELD,
    get_model_metadata,
)
from tfserving.model_servers.get_model_status_impl import get_model_status
from tfserving.model_servers.server_core import ServerCore
from tfserving.monitoring import Metrics
from tfserving.servables import classification_regression
from tfserving.servables.classification_regression import DEFAULT_INFERENCE, InferenceOptions
from tfserving.servables.predict_util import DEFAULT_SIGNATURE, predict_arrays
from tfserving.servables.saved_model_bundle import SavedModelBundle

logger = logging.getLogger(__name__)

PATH_PREFIX = re.compile(r"/v1/.*", re.IGNORECASE)
_VERSION_OR_LABEL = r"(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?"
_PREDICTION = re.compile(
    rf"/v1/models/([^/:]+){_VERSION_OR_LABEL}:(classify|regress|predict)", re.IGNORECASE
)
_STATUS = re.compile(rf"/v1/models(?:/([^/:]+))?{_VERSION_OR_LABEL}(?:/(metadata))?", re.IGNORECASE)
JSON_CONTENT_TYPE = "application/json"
VERSION_HEADER = "X-Model-Version"


@dataclass(frozen=True)
class RestResponse:
    """Status, JSON body and extra headers of one REST answer."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class HttpRestApiHandler:
    """Answers `/v1/...` requests on a ServerCore."""

    def __init__(
        self, core: ServerCore, metrics: Metrics, options: InferenceOptions = DEFAULT_INFERENCE
    ) -> None:
        self._core = core
        self._metrics = metrics
        self._options = options

    def process(self, method: str, raw_path: str, body: bytes) -> RestResponse:
        """Answer one request; never raises."""
        try:
            if method == "POST" and (match := _PREDICTION.fullmatch(raw_path)):
                name, version, label, api = match.groups()
                return self._inference(api.lower(), _model_spec(name, version, label), body)
            if method == "GET" and (match := _STATUS.fullmatch(raw_path)):
                name, version, label, metadata = match.groups()
                if not name:
                    raise invalid_argument("Missing model name in request.")
                spec = _model_spec(name, version, label)
                return RestResponse(200, self._metadata(spec) if metadata else self._status(spec))
            raise invalid_argument(f"Malformed request: {method} {raw_path}")
        except ServingError as error:
            return RestResponse(error.http_status, json_tensor.error_body(error.message))
        except Exception as error:
            logger.exception("REST request failed unexpectedly")
            failure = internal(f"{type(error).__name__}: {error}")
            return RestResponse(failure.http_status, json_tensor.error_body(failure.message))

    def _inference(self, api: str, spec: model_pb2.ModelSpec, body: bytes) -> RestResponse:
        run: Callable[[SavedModelBundle, bytes, InferenceOptions], bytes] = {
            "predict": _predict,
            "classify": _classify,
            "regress": _regress,
        }[api]
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        version = None
        try:
            bundle = self._core.servable_handle(spec)
            version = bundle.id.version
            answer = run(bundle, body, self._options)
            return RestResponse(200, answer, {VERSION_HEADER: str(version)})
        except ServingError as error:
            code = error.code
            raise
        except Exception:
            code = grpc.StatusCode.INTERNAL
            raise
        finally:
            self._metrics.record_request(
                spec.name,
                api.capitalize(),
                "REST",
                code.name,
                (time.perf_counter() - started) * 1e6,
                version,
            )

    def _status(self, spec: model_pb2.ModelSpec) -> bytes:
        request = get_model_status_pb2.GetModelStatusRequest(model_spec=spec)
        response = get_model_status(self._core, request)
        return json_format.MessageToJson(
            response, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        ).encode()

    def _metadata(self, spec: model_pb2.ModelSpec) -> bytes:
        request = get_model_metadata_pb2.GetModelMetadataRequest(
            model_spec=spec, metadata_field=[SIGNATURE_DEF_FIELD]
        )
        response = get_model_metadata(self._core, request)
        signature_defs = get_model_metadata_pb2.SignatureDefMap()
        response.metadata[SIGNATURE_DEF_FIELD].Unpack(signature_defs)
        as_dict = {
            "model_spec": _to_dict(response.model_spec),
            "metadata": {SIGNATURE_DEF_FIELD: _to_dict(signature_defs)},
        }
        return json_tensor.dump(as_dict)


def _model_spec(name: str, version: str | None, label: str | None) -> model_pb2.ModelSpec:
    spec = model_pb2.ModelSpec(name=unquote(name))
    if version is not None:
        try:
            spec.version.value = int(version)
        except ValueError as error:
            raise invalid_argument(f"Failed to convert version: {version} to numeric.") from error
    if label is not None:
        spec.version_label = unquote(label)
    return spec


def _to_dict(proto: object) -> dict:
    return json_format.MessageToDict(
        proto, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def _predict(bundle: SavedModelBundle, body: bytes, options: InferenceOptions) -> bytes:
    document = json_tensor.parse_json(body)
    signature_name = json_tensor.signature_name_of(document) or DEFAULT_SIGNATURE
    signature = bundle.signature_defs.get(signature_name)
    if signature is None:
        raise invalid_argument(
            f'Serving signature name: "{signature_name}" not found in signature def'
        )
    inputs, request_format = json_tensor.predict_inputs(document, signature)
    _, outputs = predict_arrays(bundle, signature_name, inputs, timeout_in_ms=options.timeout_in_ms)
    return json_tensor.predict_response(outputs, request_format)


def _classify_regress_spec(bundle: SavedModelBundle, document: dict) -> model_pb2.ModelSpec:
    return model_pb2.ModelSpec(
        name=bundle.id.name, signature_name=json_tensor.signature_name_of(document)
    )


def _classify(bundle: SavedModelBundle, body: bytes, options: InferenceOptions) -> bytes:
    document = json_tensor.parse_json(body)
    spec = _classify_regress_spec(bundle, document)
    request_input = json_tensor.classify_regress_input(document, "classify")
    _, result = classification_regression.classify(bundle, spec, request_input, options)
    return json_tensor.classification_response(result)


def _regress(bundle: SavedModelBundle, body: bytes, options: InferenceOptions) -> bytes:
    document = json_tensor.parse_json(body)
    spec = _classify_regress_spec(bundle, document)
    request_input = json_tensor.classify_regress_input(document, "regress")
    _, result = classification_regression.regress(bundle, spec, request_input, options)
    return json_tensor.regression_response(result)
