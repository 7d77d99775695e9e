"""The API docs pages, Swagger UI at `/docs` and ReDoc at `/redoc`, served offline.

Every asset the pages load comes from the package (`static/docs/`: third-party files
shipped unmodified, listed with their versions, sha256 and licences in VERSIONS.md),
never from a CDN, so the docs work on a machine with no internet access.
"""

from html import escape
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

ASSETS_DIRECTORY = Path(__file__).parent / "static" / "docs"
ASSETS_PATH = "/static/docs"
SWAGGER_UI_PATH = "/docs"
REDOC_PATH = "/redoc"
FAVICON = "favicon-32x32.png"
# ReDoc draws Redocly's logo from Redocly's CDN, unconditionally (every 2.x and 3.x
# release); this policy makes the browser refuse it (and any other image or connection
# elsewhere) without a request leaving the machine. ReDoc then hides the broken image.
REDOC_CONTENT_SECURITY_POLICY = "img-src 'self' data:; connect-src 'self'"
# Swagger UI's default would send the OpenAPI document to validator.swagger.io.
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}

# Not FastAPI's get_redoc_html: its page loads the bundle as a classic script, but
# ReDoc 3's standalone bundle is an ES module (a classic script fails on its
# `import.meta`), and its tag cannot carry `disable-telemetry`, without which ReDoc 3
# posts usage data to Redocly.
_REDOC_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" type="image/png" href="{favicon_url}">
<style>body {{ margin: 0; padding: 0; }}</style>
</head>
<body>
<noscript>ReDoc needs JavaScript to show the API documentation.</noscript>
<redoc spec-url="{openapi_url}" disable-telemetry="true"></redoc>
<script type="module" src="{script_url}"></script>
</body>
</html>
"""


def add_docs(app: FastAPI) -> None:
    """Serve Swagger UI and ReDoc for `app`'s OpenAPI document, assets included.

    `app` must be created with `docs_url=None, redoc_url=None`. Like FastAPI's own
    pages, these stay out of the OpenAPI document and follow the ASGI `root_path`.
    """
    openapi_url = app.openapi_url
    if openapi_url is None:
        raise ValueError("the docs pages need the app's OpenAPI document (openapi_url)")
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url
    assets = StaticFiles(directory=ASSETS_DIRECTORY)

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root_path(request)
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/{FAVICON}",
            oauth2_redirect_url=root + oauth2_redirect_url if oauth2_redirect_url else None,
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )

    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> HTMLResponse:
        root = _root_path(request)
        page = _REDOC_PAGE.format(
            title=escape(f"{app.title} - ReDoc"),
            favicon_url=escape(f"{root}{ASSETS_PATH}/{FAVICON}"),
            openapi_url=escape(root + openapi_url),
            script_url=escape(f"{root}{ASSETS_PATH}/redoc.standalone.js"),
        )
        return HTMLResponse(
            page, headers={"Content-Security-Policy": REDOC_CONTENT_SECURITY_POLICY}
        )

    # A route with a path parameter rather than a mount: requests are then logged and
    # counted under the route's template, never under each request's own path (which a
    # client can vary without end, e.g. `/static/docs/x/../swagger-ui.css`).
    async def asset(name: str, request: Request) -> Response:
        return await assets.get_response(name, request.scope)

    pages = [(SWAGGER_UI_PATH, swagger_ui), (REDOC_PATH, redoc)]
    if oauth2_redirect_url:
        pages.append((oauth2_redirect_url, oauth2_redirect))
    for path, page in pages:
        app.add_api_route(path, page, methods=["GET"], include_in_schema=False)
    app.add_api_route(
        ASSETS_PATH + "/{name}", asset, methods=["GET", "HEAD"], include_in_schema=False
    )


def _root_path(request: Request) -> str:
    """The prefix a proxy serves the gateway under (ASGI `root_path`)."""
    return request.scope.get("root_path", "").rstrip("/")
