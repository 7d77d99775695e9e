"""A Playwright page that records everything that goes wrong while a test uses it.

    with BrowserPage(browser, artifacts_dir) as docs:
        docs.page.goto(gateway.url + "/docs")
        docs.screenshot("docs.png")
        docs.assert_clean()

Recorded: failed requests (network failures, and answers with a status of 400 or more),
console errors and warnings, uncaught page errors, and every request for a host other
than the loopback. Those are external: the page's context aborts them. What Playwright
cannot intercept (keepalive fetches and beacons sent while a page unloads) goes to a
`BlockingProxy` instead, which refuses and records it.
"""

import time
from collections.abc import Collection
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from playwright.sync_api import Browser, ConsoleMessage, Error, Request, Response

from tests.support.blocking_proxy import BlockingProxy

# Chromium keeps only the last --disable-features it is given, so this list replaces the one
# Playwright passes by default: it repeats Playwright's (those that matter on Linux) and adds
# AutofillServerCommunication (Chromium asks Google's autofill service about every form it
# sees, such as the console's prediction form). Without Playwright's list, Chromium 150
# queries network time, AI Mode eligibility and preconnects to its search engine at start.
DISABLED_FEATURES = [
    "AutofillServerCommunication",
    # The browser's own traffic at start.
    "OptimizationHints",
    "NetworkTimeServiceQuerying",
    "AimEnabled",
    "PreconnectToSearch",
    "MediaRouter",
    "LensOverlay",
    # Behaviour Playwright relies on.
    "AvoidUnnecessaryBeforeUnloadCheckSync",
    "DestroyProfileOnBrowserClose",
    "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable",
    "PaintHolding",
    "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect",
]
# How the tests (and benchmarks/console.py) start Debian's Chromium: headless, with none
# of its own background traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=" + ",".join(DISABLED_FEATURES),
    # Pages' requests go through each context's blocking proxy; this keeps whatever the
    # browser itself might still send from resolving any name but the loopback's.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Schemes whose URLs never leave the browser.
IN_BROWSER_SCHEMES = frozenset({"data", "blob", "about"})
REPORTED_CONSOLE_TYPES = frozenset({"error", "warning"})
SETTLE_TIMEOUT_SECONDS = 10.0
QUIET_SECONDS = 0.5
_POLL_MILLISECONDS = 50


def is_external(url: str) -> bool:
    """Whether loading `url` would reach a host other than this machine's loopback."""
    parts = urlsplit(url)
    return parts.scheme not in IN_BROWSER_SCHEMES and parts.hostname not in LOOPBACK_HOSTS


class BrowserPage:
    """One page in a browser context of its own, with what went wrong on it recorded.

    A context manager: leaving it closes the context and its proxy.
    """

    def __init__(self, browser: Browser, artifacts_dir: Path) -> None:
        self.artifacts_dir = artifacts_dir
        # (url, description): the url a request was for or a console message came from
        self.external: list[tuple[str, str]] = []
        self.failed_requests: list[tuple[str, str]] = []
        self.console: list[tuple[str, str]] = []
        self.page_errors: list[str] = []
        self._last_event_at = time.monotonic()
        self.proxy = BlockingProxy()
        self.context = browser.new_context(proxy=self.proxy.playwright_settings())
        self.context.route(is_external, lambda route: route.abort("blockedbyclient"))
        self.context.on("request", self._on_request)
        self.context.on("requestfailed", self._on_failed)
        self.context.on("response", self._on_response)
        self.page = self.context.new_page()
        self.page.on("console", self._on_console)
        self.page.on("pageerror", self._on_page_error)

    def screenshot(self, name: str) -> Path:
        """Save a full-page PNG as `name` in the artifacts folder; return its path."""
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        path = self.artifacts_dir / name
        self.page.screenshot(path=path, full_page=True)
        return path

    def assert_clean(self, allowed_external: Collection[str] = ()) -> None:
        """Close the page, wait for its last requests, and fail if anything went wrong.

        Closing runs the page's pagehide and visibilitychange handlers, and what they
        send (telemetry, usually: ReDoc flushes its own then) is checked too; navigating
        away would drop it unseen. `allowed_external`: URLs the page is known to ask
        for; they are still blocked, but neither they (nor, past interception, their
        hosts) nor their failures are reported.
        """
        visited = self.page.url
        self.page.wait_for_load_state("networkidle")
        self.page.close()
        self._last_event_at = time.monotonic()  # what closing sends comes after this
        self._settle()
        problems = self.problems(allowed_external)
        if problems:
            lines = [f"the page at {visited} had problems:"]
            for kind, entries in problems.items():
                lines.append(f"  {kind}:")
                lines += [f"    {entry}" for entry in entries]
            raise AssertionError("\n".join(lines))

    def problems(self, allowed_external: Collection[str] = ()) -> dict[str, list[str]]:
        """What went wrong so far, by kind; kinds with nothing recorded are left out.

        A blocked request's failure and console message are not repeated: the request
        is listed once, as external.
        """
        allowed = set(allowed_external)
        allowed_hosts = {urlsplit(url).hostname for url in allowed}
        external = {url for url, _ in self.external}
        found = {
            "external requests (blocked)": [
                described for url, described in self.external if url not in allowed
            ],
            "requests past interception (refused by the proxy)": [
                line for line in self.proxy.seen if _proxied_host(line) not in allowed_hosts
            ],
            "failed requests": [
                described for url, described in self.failed_requests if url not in external
            ],
            "console errors and warnings": [
                described for url, described in self.console if url not in external
            ],
            "page errors": self.page_errors,
        }
        return {kind: entries for kind, entries in found.items() if entries}

    def close(self) -> None:
        """Close the context (and its page), then the proxy."""
        self.context.close()
        self.proxy.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _settle(self) -> None:
        """Wait (bounded) until neither Playwright nor the proxy has seen anything lately."""
        # Playwright delivers events only while the test waits through it: on a page.
        waiter = self.context.new_page()
        deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            latest = max(self._last_event_at, self.proxy.last_seen_at)
            if time.monotonic() - latest >= QUIET_SECONDS:
                break
            waiter.wait_for_timeout(_POLL_MILLISECONDS)
        waiter.close()

    def _on_request(self, request: Request) -> None:
        self._last_event_at = time.monotonic()
        if is_external(request.url):
            self.external.append((request.url, f"{request.method} {request.url}"))

    def _on_failed(self, request: Request) -> None:
        self._last_event_at = time.monotonic()
        described = f"{request.method} {request.url}: {request.failure}"
        self.failed_requests.append((request.url, described))

    def _on_response(self, response: Response) -> None:
        self._last_event_at = time.monotonic()
        if response.status >= 400:
            described = f"{response.request.method} {response.url}: HTTP {response.status}"
            self.failed_requests.append((response.url, described))

    def _on_console(self, message: ConsoleMessage) -> None:
        self._last_event_at = time.monotonic()
        if message.type in REPORTED_CONSOLE_TYPES:
            source = message.location.get("url", "")
            self.console.append((source, f"{message.type}: {message.text} ({source})"))

    def _on_page_error(self, error: Error) -> None:
        self._last_event_at = time.monotonic()
        self.page_errors.append(f"{error.name}: {error.message}")


def _proxied_host(request_line: str) -> str | None:
    """The host a proxied request was for: `CONNECT host:443` or `GET http://host/...`."""
    target = request_line.split(" ", 1)[1]
    return urlsplit(target if "://" in target else f"//{target}").hostname
