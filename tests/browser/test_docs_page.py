"""The gateway's API docs render in a real browser with nothing but the gateway to load from.

A real tiny model behind the real model server and gateway. Each page must render its
operations (named from the gateway's own OpenAPI document) with no failed request, no
console error, no page error and no request for another host. Screenshots: docs.png,
redoc.png in the artifacts folder.
"""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from covertype import defaults
from tests.support.browser import BrowserPage
from tests.support.gateway import RunningGateway, start_gateway
from tests.support.model_server import start_model_server

PREDICT_PATH = "/v1/predict"
RENDER_TIMEOUT_MS = 30_000
# ReDoc draws its "API docs by Redocly" logo from Redocly's CDN and has no option to leave
# it out (gateway/static/docs/VERSIONS.md); the page's Content-Security-Policy makes the
# browser refuse it before any request, and say so on the console.
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini-full.svg"


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, publish_tiny: Any
) -> Iterator[RunningGateway]:
    models_dir = tmp_path_factory.mktemp("models")
    publish_tiny(models_dir)
    with (
        start_model_server(model_base_path=models_dir / defaults.MODEL_NAME) as server,
        start_gateway(server.grpc_target) as running,
    ):
        yield running


@pytest.fixture(scope="module")
def predict_summary(gateway: RunningGateway) -> str:
    """The predict operation's summary, as the docs pages show it."""
    document = httpx.get(f"{gateway.url}/openapi.json", timeout=30.0).json()
    return str(document["paths"][PREDICT_PATH]["post"]["summary"])


def test_swagger_ui_renders_its_operations_offline(
    gateway: RunningGateway, browser_page: BrowserPage, predict_summary: str
) -> None:
    page = browser_page.page
    page.goto(f"{gateway.url}/docs")
    predict = page.locator(".opblock-post", has=page.locator(f'[data-path="{PREDICT_PATH}"]'))
    expect(predict).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(predict).to_contain_text(predict_summary)
    shot = browser_page.screenshot("docs.png")
    assert shot.stat().st_size > 0
    browser_page.assert_clean()


def test_redoc_renders_its_operations_offline(
    gateway: RunningGateway, browser_page: BrowserPage, predict_summary: str
) -> None:
    page = browser_page.page
    page.goto(f"{gateway.url}/redoc")
    title = page.get_by_role("heading", name=predict_summary)
    expect(title).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(page.get_by_text(PREDICT_PATH).first).to_be_attached()
    shot = browser_page.screenshot("redoc.png")
    assert shot.stat().st_size > 0
    # The browser reports the refused logo as a request that failed by the policy, which
    # never reached the network (nor the test's interception, which would abort it).
    logo_failures = [d for url, d in browser_page.failed_requests if url == REDOCLY_LOGO]
    assert logo_failures and all(d.endswith(": csp") for d in logo_failures), logo_failures
    problems = browser_page.problems(allowed_external=[REDOCLY_LOGO])
    refused = problems.pop("console errors and warnings", [])
    assert problems == {}, problems
    assert len(refused) == 1 and REDOCLY_LOGO in refused[0], refused
    assert "Content Security Policy" in refused[0]
