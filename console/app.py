"""The console's ASGI app: the page, its JSON endpoints and the prediction form's proxy.

Every endpoint is read-only except `POST /console/api/predict`, which forwards the body
to the gateway's `/v1/predict` and returns the gateway's answer unchanged (status, body
and request id), so the form shows the API's own errors.
"""

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

from console.catalog import Catalog
from console.drift import DriftReport
from console.settings import ConsoleSettings
from console.traffic import Scrape, TrafficHistory, parse_predictions
from covertype import __version__
from covertype.schema import (
    CLASS_NAMES,
    EXAMPLE_OBSERVATION,
    NUMERIC_FEATURES,
    SOIL_TYPES,
    WILDERNESS_AREAS,
)

STATIC = Path(__file__).with_name("static")
# The page asks for traffic every refresh; scrapes closer together than this are shared.
MIN_SCRAPE_INTERVAL_SECONDS = 1.0
DRIFT_MIN_INTERVAL_SECONDS = 10.0
_FORWARDED_HEADERS = ("content-type", "x-request-id", "retry-after")
# The page loads and talks to nothing but the console (inline styles: Chart.js and the
# bar widths set element styles), and may not be framed by another site.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'"
)

T = TypeVar("T")


class SourceUnavailable(Exception):
    """A source the console reads (gateway, registry, log) did not answer."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(message)
        self.source = source


def create_app(settings: ConsoleSettings) -> FastAPI:
    """The console app for one gateway, one registry and one prediction log."""
    catalog = Catalog(settings.registry, settings.model_name) if settings.registry else None
    catalog_lock = threading.Lock()
    traffic = TrafficHistory(settings.traffic_window_seconds)
    scrape_lock = asyncio.Lock()

    def read_card(version: int) -> dict[str, Any] | None:
        if catalog is None:
            return None
        with catalog_lock:
            return catalog.card(version)

    drift = (
        DriftReport(settings.prediction_log, read_card, DRIFT_MIN_INTERVAL_SECONDS)
        if settings.prediction_log
        else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(
            base_url=settings.gateway, timeout=settings.timeout_seconds
        ) as client:
            app.state.gateway = client
            yield

    app = FastAPI(
        title="covertype console",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.mount("/console/static", StaticFiles(directory=STATIC), name="static")
    # Chart.js is most of the first load: compressed, a third of it goes over the wire.
    app.add_middleware(GZipMiddleware, minimum_size=1024)

    async def in_catalog(work: Callable[[Catalog], T]) -> T:
        assert catalog is not None

        def locked() -> T:
            with catalog_lock:
                return work(catalog)

        try:
            return await asyncio.to_thread(locked)
        except Exception as error:  # any store failure: shown in the panel, not a 500
            raise SourceUnavailable("registry", f"{settings.registry}: {error}") from error

    async def gateway_get(request: Request, path: str) -> httpx.Response:
        try:
            return await request.app.state.gateway.get(path)
        except httpx.HTTPError as error:
            message = f"{settings.gateway}{path}: {type(error).__name__}: {error}"
            raise SourceUnavailable("gateway", message) from error

    @app.exception_handler(SourceUnavailable)
    async def unavailable(_request: Request, error: SourceUnavailable) -> JSONResponse:
        body = {"error": "source_unavailable", "source": error.source, "message": str(error)}
        return JSONResponse(body, status_code=502)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/console")

    @app.get("/console", include_in_schema=False)
    async def page() -> FileResponse:
        headers = {"Cache-Control": "no-cache", "Content-Security-Policy": CONTENT_SECURITY_POLICY}
        return FileResponse(STATIC / "index.html", headers=headers)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/console/api/overview")
    async def overview() -> dict[str, Any]:
        return {
            "model_name": settings.model_name,
            "gateway": settings.gateway,
            "registry": settings.registry,
            "prediction_log": str(settings.prediction_log) if settings.prediction_log else None,
            "refresh_seconds": settings.refresh_seconds,
            "class_names": {str(k): v for k, v in CLASS_NAMES.items()},
            "form": {
                "numeric": [
                    {
                        "name": f.name,
                        "minimum": f.minimum,
                        "maximum": f.maximum,
                        "description": f.description,
                    }
                    for f in NUMERIC_FEATURES
                ],
                "wilderness_areas": WILDERNESS_AREAS,
                "soil_types": SOIL_TYPES,
                "example": EXAMPLE_OBSERVATION,
            },
        }

    @app.get("/console/api/versions")
    async def versions(request: Request) -> dict[str, Any]:
        answer = await gateway_get(request, "/v1/models")
        if answer.status_code != 200:
            raise SourceUnavailable("gateway", _gateway_error("/v1/models", answer))
        served = answer.json()
        registered = await in_catalog(lambda c: c.versions()) if catalog else None
        return _join_versions(served, registered, settings.registry)

    @app.get("/console/api/versions/{version}/card")
    async def card(version: int) -> Response:
        if catalog is None:
            return _not_configured("model cards", "--registry")
        found = await in_catalog(lambda c: c.card(version))
        if found is None:
            message = f"version {version} is not in the registry or has no model card"
            body = {"error": "not_found", "message": message}
            return JSONResponse(body, status_code=404)
        return JSONResponse(found)

    @app.get("/console/api/traffic")
    async def traffic_series(request: Request) -> dict[str, Any]:
        async with scrape_lock:
            latest = traffic.scrapes[-1].time if traffic.scrapes else 0.0
            if time.time() - latest >= MIN_SCRAPE_INTERVAL_SECONDS:
                answer = await gateway_get(request, "/metrics")
                if answer.status_code != 200:
                    raise SourceUnavailable("gateway", _gateway_error("/metrics", answer))
                traffic.add(Scrape(time.time(), parse_predictions(answer.text)))
        return traffic.series()

    @app.get("/console/api/drift")
    async def drift_report() -> Response:
        if drift is None:
            return _not_configured("drift", "--prediction-log")
        try:
            return JSONResponse(await asyncio.to_thread(drift.current))
        except OSError as error:
            raise SourceUnavailable("prediction log", str(error)) from error

    @app.get("/console/api/history")
    async def history() -> Response:
        if catalog is None:
            return _not_configured("release history", "--registry")
        return JSONResponse({"events": await in_catalog(lambda c: c.history())})

    @app.post("/console/api/predict")
    async def predict(request: Request) -> Response:
        headers = {
            name: value
            for name in ("content-type", "x-request-id")
            if (value := request.headers.get(name)) is not None
        }
        try:
            answer = await request.app.state.gateway.post(
                "/v1/predict",
                content=await request.body(),
                params=request.query_params,
                headers=headers,
            )
        except httpx.HTTPError as error:
            message = f"{settings.gateway}/v1/predict: {type(error).__name__}: {error}"
            raise SourceUnavailable("gateway", message) from error
        forwarded = {k: v for k, v in answer.headers.items() if k in _FORWARDED_HEADERS}
        return Response(answer.content, status_code=answer.status_code, headers=forwarded)

    return app


def _gateway_error(path: str, answer: httpx.Response) -> str:
    return f"the gateway answered {path} with {answer.status_code}: {answer.text[:300]}"


def _not_configured(what: str, flag: str) -> JSONResponse:
    return JSONResponse(
        {"configured": False, "reason": f"no {what}: start the console with {flag}"}
    )


def _join_versions(
    served: dict[str, Any], registered: list[dict[str, Any]] | None, registry: str | None
) -> dict[str, Any]:
    """One row per version known to the model server or the registry, newest first."""
    rows: dict[int, dict[str, Any]] = {}
    for entry in registered or []:
        rows[entry["version"]] = {**entry, "state": "NOT_SERVED", "error": None}
    for status in served.get("versions", []):
        row = rows.setdefault(
            status["version"],
            {"version": status["version"], "registry_state": None, "card": None, "labels": []},
        )
        row["state"] = status["state"]
        row["error"] = status.get("error")
        if status.get("labels") is not None:
            row["labels"] = status["labels"]
    available = [v for v, row in rows.items() if row["state"] == "AVAILABLE"]
    answering = max(available, default=None)
    for version, row in rows.items():
        row["answers_by_default"] = version == answering
    return {
        "model_name": served.get("model_name"),
        "registry": registry,
        "labels": served.get("labels"),
        "labels_source": served.get("labels_source"),
        "versions": [rows[v] for v in sorted(rows, reverse=True)],
    }
