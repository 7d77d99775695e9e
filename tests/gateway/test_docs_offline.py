"""The API docs pages (/docs, /redoc) load every asset from the gateway itself, never a CDN.

A real gateway with no model server behind it (the docs need none). The pages' HTML is
parsed for every URL it names; each must be same-origin and answer 200 with the right
content type. The vendored files must be byte for byte what VERSIONS.md lists.
"""

import asyncio
import hashlib
import re
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from gateway.app import create_app
from gateway.docs import ASSETS_DIRECTORY
from gateway.settings import GatewaySettings
from tests.support import free_port
from tests.support.gateway import RunningGateway, start_gateway

PAGES = ("/docs", "/redoc", "/docs/oauth2-redirect")
VERSIONS_FILE = ASSETS_DIRECTORY / "VERSIONS.md"
LOG_WAIT_SECONDS = 5.0
JAVASCRIPT_TYPES = {"text/javascript", "application/javascript"}
CONTENT_TYPES = {
    ".js": JAVASCRIPT_TYPES,
    ".css": {"text/css"},
    ".png": {"image/png"},
    ".json": {"application/json"},
}
# Attributes whose value is a URL the browser (or the page's script) loads.
URL_ATTRIBUTES = {"src", "href", "spec-url", "action", "poster", "data"}
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)""")
# An absolute or scheme-relative URL anywhere in the page, scripts included.
_ABSOLUTE_URL = re.compile(r"""(?:\b[a-z][a-z0-9+.-]*:)?//[^\s'"<>)]+""", re.IGNORECASE)
_VERSIONS_ROW = re.compile(r"^\| `([^`]+)` \| [^|]+ \| [^|]+ \| `[^`]+` \| `([0-9a-f]{64})` \|")


class _UrlCollector(HTMLParser):
    """Every URL an HTML page names in its attributes and CSS `url(...)`s."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_style = tag == "style"
        for name, value in attrs:
            if value is None:
                continue
            if name in URL_ATTRIBUTES:
                self.urls.append(value)
            elif name == "style":
                self.urls += _CSS_URL.findall(value)

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.urls += _CSS_URL.findall(data)


def referenced_urls(html: str) -> list[str]:
    """The URLs `html` names in attributes and styles."""
    collector = _UrlCollector()
    collector.feed(html)
    collector.close()
    return collector.urls


def logged_requests(gateway: RunningGateway, request_ids: set[str]) -> dict[str, dict[str, Any]]:
    """The access log entries of `request_ids`, waiting (bounded) for the gateway to write
    them: it logs a request after answering it."""
    deadline = time.monotonic() + LOG_WAIT_SECONDS
    while True:
        logged = {
            e["request_id"]: e for e in gateway.access_log() if e["request_id"] in request_ids
        }
        if set(logged) == request_ids or time.monotonic() > deadline:
            return logged
        time.sleep(0.05)


@pytest.fixture(scope="module")
def gateway() -> Iterator[RunningGateway]:
    # Nothing listens on this target: the docs pages must not need the model server.
    with start_gateway(f"127.0.0.1:{free_port()}") as running:
        yield running


@pytest.fixture(scope="module")
def client(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30.0) as http:
        yield http


@pytest.mark.parametrize("page", PAGES)
def test_pages_name_only_same_origin_urls(client: httpx.Client, page: str) -> None:
    answer = client.get(page)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert _ABSOLUTE_URL.findall(answer.text) == []
    for url in referenced_urls(answer.text):
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("", ""), f"{page} names {url}"
        assert url.startswith("/"), f"{page} names {url}, not a path from the root"


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (
            "/docs",
            {
                "/static/docs/swagger-ui.css",
                "/static/docs/swagger-ui-bundle.js",
                "/static/docs/favicon-32x32.png",
            },
        ),
        ("/redoc", {"/static/docs/redoc.standalone.js", "/static/docs/favicon-32x32.png"}),
    ],
)
def test_every_asset_a_page_names_is_served(
    client: httpx.Client, page: str, expected: set[str]
) -> None:
    urls = set(referenced_urls(client.get(page).text))
    assert expected <= urls
    for url in urls:
        answer = client.get(urljoin(page, url))
        assert answer.status_code == 200, f"{url}: {answer.status_code}"
        content_type = answer.headers["content-type"].split(";")[0]
        assert content_type in CONTENT_TYPES[Path(urlsplit(url).path).suffix], (url, content_type)
        if url.startswith("/static/docs/"):
            assert answer.content == (ASSETS_DIRECTORY / Path(url).name).read_bytes()


def test_the_pages_load_the_openapi_document(client: httpx.Client) -> None:
    assert "url: '/openapi.json'" in client.get("/docs").text
    assert 'spec-url="/openapi.json"' in client.get("/redoc").text
    assert client.get("/openapi.json").status_code == 200


def test_redoc_runs_as_a_module_without_telemetry(client: httpx.Client) -> None:
    page = client.get("/redoc").text
    assert '<script type="module" src="/static/docs/redoc.standalone.js">' in page
    assert 'disable-telemetry="true"' in page


def test_docs_pages_stay_out_of_the_openapi_document(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert [p for p in paths if p.startswith(("/docs", "/redoc", "/static"))] == []


def test_unknown_asset_is_a_404_in_the_gateway_error_shape(client: httpx.Client) -> None:
    answer = client.get("/static/docs/missing.js")
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"
    assert answer.headers["x-request-id"]


def test_docs_requests_are_logged_and_counted_under_bounded_routes(
    client: httpx.Client, gateway: RunningGateway
) -> None:
    answers = {
        path: (client.get(path, headers={"x-request-id": f"docs-{number}"}), number)
        for number, path in enumerate(
            (
                "/docs",
                "/redoc",
                "/static/docs/swagger-ui.css",
                "/static/docs/absent.css",
                # what a mount would have served, each under a label of its own
                "/static/docs//swagger-ui.css",
                "/static/docs/.%2Fswagger-ui.css",
            )
        )
    }
    logged = logged_requests(gateway, {f"docs-{number}" for _, number in answers.values()})
    routes = {
        path: (logged[f"docs-{number}"]["route"], answer.status_code)
        for path, (answer, number) in answers.items()
    }
    assert routes == {
        "/docs": ("/docs", 200),
        "/redoc": ("/redoc", 200),
        "/static/docs/swagger-ui.css": ("/static/docs/{name}", 200),
        "/static/docs/absent.css": ("/static/docs/{name}", 404),
        "/static/docs//swagger-ui.css": ("unmatched", 404),
        "/static/docs/.%2Fswagger-ui.css": ("unmatched", 404),
    }
    labels = set(re.findall(r'route="([^"]*)"', client.get("/metrics").text))
    assert {label for label in labels if label.startswith("/static")} == {"/static/docs/{name}"}


def test_pages_follow_the_root_path_a_proxy_serves_them_under() -> None:
    async def get_all(paths: tuple[str, ...]) -> dict[str, httpx.Response]:
        app = create_app(GatewaySettings())
        transport = httpx.ASGITransport(app=app, root_path="/api")
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            return {path: await http.get(path) for path in paths}

    answers = asyncio.run(get_all(("/api/docs", "/api/redoc", "/api/static/docs/swagger-ui.css")))
    for page in ("/api/docs", "/api/redoc"):
        urls = referenced_urls(answers[page].text)
        assert urls and all(url.startswith("/api/") for url in urls), urls
    assert "url: '/api/openapi.json'" in answers["/api/docs"].text
    assert 'spec-url="/api/openapi.json"' in answers["/api/redoc"].text
    assert answers["/api/static/docs/swagger-ui.css"].status_code == 200


def test_vendored_files_match_versions_md() -> None:
    listed = {
        match.group(1): match.group(2)
        for line in VERSIONS_FILE.read_text(encoding="utf-8").splitlines()
        if (match := _VERSIONS_ROW.match(line))
    }
    shipped = {p.name for p in ASSETS_DIRECTORY.iterdir()} - {VERSIONS_FILE.name}
    assert set(listed) == shipped
    for name, sha256 in listed.items():
        assert hashlib.sha256((ASSETS_DIRECTORY / name).read_bytes()).hexdigest() == sha256, name
