"""Build the gateway's FastAPI application from its settings."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.telemetry import TelemetryConfig
from starlette.exceptions import HTTPException

from covertype import __version__
from gateway import errors
from gateway.batching import PredictBatcher
from gateway.decoding import DecoderSettings, RequestDecoder
from gateway.deferred import DeferredWork
from gateway.docs import add_docs
from gateway.error_pacing import ErrorPacer
from gateway.fast_path import PredictFastPath
from gateway.metrics import GatewayMetrics
from gateway.middleware import PREDICT_ROUTE, RequestContextMiddleware
from gateway.model_client import ModelServerClient
from gateway.observations import Problem
from gateway.openapi import build_openapi
from gateway.prediction_log import PredictionLog, PredictionLogSettings
from gateway.readiness import Readiness
from gateway.routes import router
from gateway.settings import GatewaySettings

TITLE = "covertype gateway"
# The gateway reports through its own Prometheus metrics and JSON logs and installs no
# OpenTelemetry SDK, so FastAPI's OpenTelemetry bridge could never export anything here;
# left on, it looks for configured providers on every request.
NO_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}
DESCRIPTION = (
    "Forest cover type predictions (Kaggle / UCI Covertype) from named, typed observations. "
    "The gateway validates each observation, calls the model server (TensorFlow Serving's "
    "gRPC API) and names the model version behind every answer."
)


def create_app(settings: GatewaySettings) -> FastAPI:
    """The ASGI app; its lifespan opens (and closes) the gRPC channel to the model server."""
    metrics = GatewayMetrics()
    deferred = DeferredWork()

    def observe_backend_call(method: str, code: str, seconds: float) -> None:
        deferred.defer(metrics.observe_backend_call, method, code, seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = ModelServerClient(
            settings.tfserving,
            settings.timeout_seconds,
            observe_backend_call,
            while_waiting=deferred.run_pending,
        )
        app.state.client = client
        batcher = PredictBatcher(
            client,
            settings.model_name,
            settings.max_concurrent_calls,
            settings.max_batch_instances,
            metrics.observe_batch,
        )
        app.state.batcher = batcher
        prediction_log = PredictionLog(
            PredictionLogSettings(
                settings.prediction_log,
                settings.prediction_log_max_bytes,
                settings.prediction_log_backups,
            )
        )
        prediction_log.start()
        app.state.prediction_log = prediction_log
        decoder = RequestDecoder(
            DecoderSettings(
                max_instances=settings.max_instances, timeout_seconds=settings.timeout_seconds
            )
        )
        app.state.decoder = decoder
        try:
            yield
        finally:
            await batcher.close()
            await client.close()
            deferred.run_pending()
            prediction_log.close()
            decoder.close()

    app = FastAPI(
        title=TITLE,
        description=DESCRIPTION,
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        telemetry=NO_TELEMETRY,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.deferred = deferred
    app.state.readiness = Readiness()
    pacer = (
        ErrorPacer(settings.client_error_rate, settings.client_error_burst)
        if settings.client_error_rate > 0
        else None
    )
    app.include_router(router)
    # The last middleware added is the outermost: the fast path runs inside the context.
    app.add_middleware(PredictFastPath, route=_route(router, "POST", PREDICT_ROUTE))
    app.add_middleware(RequestContextMiddleware, metrics=metrics, deferred=deferred, pacer=pacer)
    app.add_exception_handler(errors.ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(HTTPException, _http_exception)
    add_docs(app)
    app.openapi = lambda: _cached_openapi(app, settings)  # type: ignore[method-assign]
    return app


def _route(routes: APIRouter, method: str, path: str) -> APIRoute:
    return next(
        route
        for route in routes.routes
        if isinstance(route, APIRoute) and route.path == path and method in route.methods
    )


def _cached_openapi(app: FastAPI, settings: GatewaySettings) -> dict[str, Any]:
    if app.openapi_schema is None:
        app.openapi_schema = build_openapi(app, settings)
    return app.openapi_schema


def _error_response(request: Request, error: errors.ApiError) -> JSONResponse:
    return errors.error_response(error, request.state.request_id)


async def _api_error(request: Request, error: errors.ApiError) -> JSONResponse:
    return _error_response(request, error)


async def _request_validation_error(
    request: Request, error: RequestValidationError
) -> JSONResponse:
    """Query parameter errors (the body is validated by the routes), in the same shape."""
    problems = [
        Problem(None, str(detail["loc"][-1]), _kind(detail["type"]), detail["msg"])
        for detail in error.errors()
    ]
    return _error_response(request, errors.invalid_input(problems))


def _kind(pydantic_type: str) -> str:
    if pydantic_type == "missing":
        return "missing_feature"
    if pydantic_type.endswith("_parsing") or pydantic_type.endswith("_type"):
        return "wrong_type"
    if pydantic_type in ("greater_than_equal", "less_than_equal", "string_too_short"):
        return "out_of_domain"
    return "invalid"


async def _http_exception(request: Request, error: HTTPException) -> JSONResponse:
    """Unknown routes and methods, in the gateway's error shape."""
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    api_error = errors.ApiError(error.status_code, code, str(error.detail), headers=error.headers)
    return _error_response(request, api_error)
