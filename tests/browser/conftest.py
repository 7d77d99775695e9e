"""Headless Chromium for the browser tests: Debian's `chromium`, driven by Playwright.

- `browser`: Chromium (from `$COVERTYPE_CHROMIUM`, else `chromium` on the PATH; `make test`
  installs Debian's), headless, with a fresh temporary profile. One per package run: while
  Playwright's sync API is started, its event loop counts as running in the test thread,
  and `asyncio.run()` in any other package's tests would fail, so it is never left
  running outside this package.
- `browser_page`: a `tests.support.browser.BrowserPage` (a page in a context of its own
  that records failed and external requests, console errors and page errors), one per
  test; screenshots go to `test-artifacts/browser/` in the repository, or
  `$COVERTYPE_TEST_ARTIFACTS/browser/`.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.support.browser import CHROMIUM_ARGS, BrowserPage

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ENV = "COVERTYPE_CHROMIUM"
ARTIFACTS_ENV = "COVERTYPE_TEST_ARTIFACTS"


def chromium_executable() -> str:
    """The Chromium binary the tests drive."""
    chosen = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium")
    if chosen is None:
        pytest.fail(
            f"no chromium on the PATH and {CHROMIUM_ENV} unset: `make browser` installs "
            "Debian's (apt-get install -y --no-install-recommends chromium)",
            pytrace=False,
        )
    return chosen


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        # Without a user_data_dir, Playwright gives the browser a new temporary profile.
        launched = playwright.chromium.launch(
            executable_path=chromium_executable(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def browser_artifacts() -> Path:
    """Where browser tests leave screenshots."""
    root = os.environ.get(ARTIFACTS_ENV)
    return (Path(root) if root else REPO_ROOT / "test-artifacts") / "browser"


@pytest.fixture
def browser_page(browser: Browser, browser_artifacts: Path) -> Iterator[BrowserPage]:
    with BrowserPage(browser, browser_artifacts) as page:
        yield page
