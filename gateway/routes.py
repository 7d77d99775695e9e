"""The REST API's routes: predict, models, health, readiness, metrics."""

import json
import time
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from covertype import defaults
from gateway import errors
from gateway.decoding import DecoderBusy
from gateway.labels import LabelsUnavailable, read_version_labels
from gateway.metrics import CONTENT_TYPE
from gateway.model_client import BackendError, ModelServerClient
from gateway.observations import MAX_LISTED_PROBLEMS, InvalidInstances, Problem, field_name
from gateway.payload import MalformedJson
from gateway.predictions import BadModelResponse, UnscorableInstances, VersionChoice
from gateway.readiness import Readiness
from gateway.schemas import (
    MODELS_ERRORS,
    PREDICT_ERRORS,
    PREDICT_EXAMPLES,
    HealthBody,
    ModelsBody,
    PredictResponseBody,
    ReadyBody,
)
from gateway.settings import GatewaySettings
from protos.slim import get_model_status_pb2

READINESS_TIMEOUT_SECONDS = 1.0
UNSCORABLE_RULE = (
    "the model gives no finite probabilities for this observation; its values are valid but "
    "far from any it was trained on"
)
_AVAILABLE = get_model_status_pb2.ModelVersionStatus.AVAILABLE

router = APIRouter()

_PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/PredictInstances"},
                        {"$ref": "#/components/schemas/Observation"},
                    ]
                },
                "examples": PREDICT_EXAMPLES,
            }
        },
    }
}


def _settings(request: Request) -> GatewaySettings:
    return request.app.state.settings


def _client(request: Request) -> ModelServerClient:
    return request.app.state.client


def _json(content: object, status_code: int = 200) -> Response:
    body = json.dumps(content, separators=(",", ":"), allow_nan=False).encode()
    return Response(body, status_code=status_code, media_type="application/json")


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) as soon as it is known to exceed `limit` bytes.

    Not FastAPI's `max_body_size`: it answers a declared oversized body in plain text,
    bypassing the error shape and the X-Request-ID header.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _body_too_large(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _body_too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _check_json_content_type(content_type: str | None) -> None:
    """415 unless the body is declared JSON (UTF-8); no Content-Type at all is taken as JSON."""
    if content_type is None:
        return
    media_type, *parameters = content_type.lower().split(";")
    media_type = media_type.strip()
    charset = ""
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip() == "charset":
            charset = value.strip().strip('"')
    is_json = media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )
    if is_json and charset in ("", "utf-8"):
        return
    shown = content_type if len(content_type) <= 80 else content_type[:77] + "..."
    raise errors.ApiError(
        415,
        "unsupported_media_type",
        f"send the body as application/json (UTF-8); got Content-Type {shown!r}",
    )


def _body_too_large(size: int, limit: int) -> errors.ApiError:
    message = f"the body has at least {size} bytes; the limit is {limit}"
    return errors.ApiError(413, "body_too_large", message)


_QUERY_PARAMETERS = ("version", "label")


def _check_query(request: Request) -> None:
    """Unknown or repeated query parameters are refused, never silently ignored."""
    problems = []
    allowed = "the query accepts version or label, once"
    for name in dict.fromkeys(request.query_params.keys()):
        if name not in _QUERY_PARAMETERS:
            problems.append(Problem(None, field_name(name), "unknown_field", allowed))
        elif len(request.query_params.getlist(name)) > 1:
            problems.append(Problem(None, name, "invalid", allowed))
    if problems:
        listed = problems[:MAX_LISTED_PROBLEMS]
        raise errors.invalid_input(listed, len(problems))


def _version_choice(version: int | None, label: str | None) -> VersionChoice:
    if version is not None and label is not None:
        rule = "give either version or label, not both"
        raise errors.invalid_input([Problem(None, "label", "invalid", rule)])
    return VersionChoice(version=version, label=label)


@router.post(
    "/v1/predict",
    summary="Predict the cover type of one or more observations",
    response_model=PredictResponseBody,
    responses=PREDICT_ERRORS,
    openapi_extra=_PREDICT_BODY,
)
async def predict(
    request: Request,
    version: Annotated[
        int | None,
        Query(
            ge=0,
            le=defaults.MAX_VERSION,
            description="a specific model version (default: the latest available)",
        ),
    ] = None,
    label: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=defaults.MAX_LABEL_LENGTH,
            pattern=f"^{defaults.LABEL_PATTERN}$",
            description="a version label such as stable",
        ),
    ] = None,
) -> Response:
    """Score `{"instances": [obs, ...]}` or one bare `obs` with the model server.

    Each observation has the 10 numeric features by their dataset names, and the
    wilderness area and soil type either as one-hot dataset columns
    (`Wilderness_Area1..4`, `Soil_Type1..40`, exactly one set to 1 in each group; absent
    columns count as 0) or as `wilderness_area` (1..4) and `soil_type` (1..40).
    """
    started = time.perf_counter()
    settings = _settings(request)
    _check_query(request)
    choice = _version_choice(version, label)
    _check_json_content_type(request.headers.get("content-type"))
    body = await _read_body(request, settings.max_body_bytes)
    try:
        rows = await request.app.state.decoder.decode(body)
    except DecoderBusy as error:
        raise errors.ApiError(
            503,
            "busy",
            f"{error}; retry later",
            headers={"Retry-After": str(errors.RETRY_AFTER_SECONDS)},
        ) from error
    except MalformedJson as error:
        raise errors.ApiError(400, "malformed_json", str(error)) from error
    except InvalidInstances as error:
        raise errors.invalid_input(error.problems, error.count) from error
    request.state.instances = len(rows)
    request.app.state.metrics.observe_instances(len(rows))

    try:
        outcome = await request.app.state.batcher.predict(
            rows, choice, request.state.request_id, settings.timeout_seconds
        )
    except BackendError as error:
        raise errors.from_backend(error, choice) from error
    except BadModelResponse as error:
        raise errors.ApiError(502, "bad_model_response", str(error)) from error
    except UnscorableInstances as error:
        raise errors.invalid_input(
            [Problem(i, "instance", "unscorable", UNSCORABLE_RULE) for i in error.instances]
        ) from error
    request.state.model_version = outcome.model_version
    request.app.state.prediction_log.log(
        request_id=request.state.request_id,
        model_name=outcome.model_name,
        model_version=outcome.model_version,
        features=rows,
        cover_types=[p.cover_type for p in outcome.predictions],
        probabilities=[p.probabilities for p in outcome.predictions],
        latency_ms=(time.perf_counter() - started) * 1000,
    )
    return _json(
        {
            "model_name": outcome.model_name,
            "model_version": outcome.model_version,
            "predictions": [prediction.as_json() for prediction in outcome.predictions],
        }
    )


@router.get(
    "/v1/models",
    summary="The model's versions, their states and labels",
    response_model=ModelsBody,
    responses=MODELS_ERRORS,
)
async def models(request: Request) -> Response:
    """Versions and states from `ModelService.GetModelStatus`; labels from models.config.

    TF Serving's API does not expose version labels; the gateway reports them when it
    was started with `--model-config-file` (the server's models.config), else null.
    """
    settings = _settings(request)
    try:
        status = await _client(request).get_model_status(
            settings.model_name, request.state.request_id
        )
    except BackendError as error:
        raise errors.from_backend(error, VersionChoice()) from error
    labels: dict[str, int] | None = None
    if settings.model_config_file is None:
        source = "unknown: TF Serving's API does not list labels; start with --model-config-file"
    else:
        try:
            labels = read_version_labels(settings.model_config_file, settings.model_name)
            source = f"model config file {settings.model_config_file}"
        except LabelsUnavailable as error:
            source = f"unknown: {error}"
    versions = []
    for entry in sorted(status.model_version_status, key=lambda e: e.version, reverse=True):
        state = get_model_status_pb2.ModelVersionStatus.State.Name(entry.state)
        versions.append(
            {
                "version": entry.version,
                "state": state,
                "labels": None
                if labels is None
                else sorted(name for name, v in labels.items() if v == entry.version),
                "error": entry.status.error_message or None,
            }
        )
    return _json(
        {
            "model_name": settings.model_name,
            "versions": versions,
            "labels": labels,
            "labels_source": source,
        }
    )


@router.get("/healthz", summary="Liveness of the gateway process", response_model=HealthBody)
async def healthz() -> Response:
    """200 while the gateway process serves requests; says nothing about the model server."""
    return _json({"status": "ok"})


@router.get(
    "/readyz",
    summary="Readiness: the model server has shown an AVAILABLE version",
    response_model=ReadyBody,
    responses={503: {"model": ReadyBody, "description": "not ready, with the reason"}},
)
async def readyz(request: Request) -> Response:
    """200 once `GetModelStatus` has reported an AVAILABLE version; until then 503 and why.

    Once ready, the gateway stays ready without asking the model server again: its
    outages are answered per request (503 `backend_unavailable`), not by taking every
    gateway out of service at once. `GET /v1/models` shows the live model state.
    """
    settings = _settings(request)
    readiness: Readiness = request.app.state.readiness
    name = settings.model_name
    if not readiness.ready:
        try:
            status = await _client(request).get_model_status(
                name,
                request.state.request_id,
                min(READINESS_TIMEOUT_SECONDS, settings.timeout_seconds),
            )
        except BackendError as error:
            return _not_ready(name, f"model server: {error.code.name}: {error.details}")
        if not any(e.state == _AVAILABLE for e in status.model_version_status):
            states = ", ".join(
                f"{e.version} {get_model_status_pb2.ModelVersionStatus.State.Name(e.state)}"
                for e in status.model_version_status
            )
            return _not_ready(
                name, f"no AVAILABLE version of {name} yet (versions: {states or 'none'})"
            )
        readiness.mark_ready()
    return _json({"ready": True, "model_name": name, "ready_since": readiness.ready_since})


def _not_ready(model_name: str, reason: str) -> Response:
    response = _json({"ready": False, "model_name": model_name, "reason": reason}, status_code=503)
    response.headers["Retry-After"] = str(errors.RETRY_AFTER_SECONDS)
    return response


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}}},
)
async def metrics(request: Request) -> Response:
    """Requests by route and status, request and backend-call latency, instances per request."""
    request.app.state.deferred.run_pending()  # every request answered so far is counted
    return Response(request.app.state.metrics.exposition(), media_type=CONTENT_TYPE)
