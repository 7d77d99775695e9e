"""The browser harness sees what goes wrong on a page: pages that misbehave on purpose.

Served by a plain static HTTP server on the loopback; each page gets its own context.
"""

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, expect

from tests.support.browser import BrowserPage

TRACKER = "https://tracker.example.com/pixel.png"
TELEMETRY = "https://telemetry.example.com/v1/traces"
PAGES = {
    "clean.html": '<!DOCTYPE html><title>clean</title><p id="ok">fine</p><img src="dot.svg">',
    "dot.svg": '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>',
    "tracked.html": f'<!DOCTYPE html><title>tracked</title><img src="{TRACKER}">',
    "broken.html": f"""<!DOCTYPE html><title>broken</title>
<img src="{TRACKER}">
<img src="/missing.png">
<script>console.error("boom in the console"); console.warn("careful");</script>
<script>throw new Error("uncaught boom");</script>
<script>
addEventListener("pagehide", () =>
  fetch("{TELEMETRY}", {{method: "POST", body: "usage", keepalive: true}}));
</script>""",
}


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No access log on the test's output."""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The pages above, served over HTTP on 127.0.0.1; yields the base URL."""
    root = tmp_path_factory.mktemp("site")
    for name, content in PAGES.items():
        (root / name).write_text(content, encoding="utf-8")
    handler = functools.partial(_QuietHandler, directory=str(root))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()
        thread.join()


@pytest.fixture
def page_in(browser: Browser, tmp_path: Path) -> Iterator[BrowserPage]:
    with BrowserPage(browser, tmp_path) as page:
        yield page


def test_a_clean_page_passes_and_its_screenshot_is_saved(page_in: BrowserPage, site: str) -> None:
    page_in.page.goto(f"{site}/clean.html")
    expect(page_in.page.locator("#ok")).to_have_text("fine")
    shot = page_in.screenshot("clean.png")
    assert shot == page_in.artifacts_dir / "clean.png"
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    page_in.assert_clean()


def test_every_kind_of_problem_is_reported(page_in: BrowserPage, site: str) -> None:
    page_in.page.goto(f"{site}/broken.html")
    with pytest.raises(AssertionError) as failure:
        page_in.assert_clean()
    report = str(failure.value)
    assert f"the page at {site}/broken.html had problems:" in report
    assert f"GET {TRACKER}" in report
    # sent as the page unloads, out of Playwright's reach: the proxy refused it
    assert f"CONNECT {urlsplit(TELEMETRY).hostname}:443" in report
    assert f"GET {site}/missing.png: HTTP 404" in report
    assert "error: boom in the console" in report
    assert "warning: careful" in report
    assert "Error: uncaught boom" in report
    # a blocked request is listed once, as external, not again as failed
    assert report.count(TRACKER) == 1


def test_an_allowed_external_request_is_still_blocked_but_not_reported(
    page_in: BrowserPage, site: str
) -> None:
    page_in.page.goto(f"{site}/tracked.html")
    page_in.assert_clean(allowed_external=[TRACKER])
    assert page_in.external == [(TRACKER, f"GET {TRACKER}")]
    assert [url for url, _ in page_in.failed_requests] == [TRACKER]
