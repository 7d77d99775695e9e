"""The operator's console in a real browser, against a real model server, gateway and registry.

The page must load with nothing but the console to load from (no failed, external or
erroring request, no console error), show the version that answers, answer a prediction
submitted through its form with the class the gateway gives, and show the API's own
error next to a field given a bad value. Screenshots: console.png,
console-prediction.png and console-invalid.png in the artifacts folder.
"""

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from covertype.schema import EXAMPLE_OBSERVATION
from tests.support.browser import BrowserPage
from tests.support.console import ConsoleStack, console_stack

LOAD_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, publish_tiny: Any) -> Iterator[ConsoleStack]:
    with console_stack(tmp_path_factory.mktemp("console"), publish_tiny) as running:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # both versions loaded: the page shows the final state
            models = httpx.get(f"{running.gateway.url}/v1/models").json()
            if [v["state"] for v in models["versions"]] == ["AVAILABLE", "AVAILABLE"]:
                break
            time.sleep(0.5)
        yield running


def _open(browser_page: BrowserPage, stack: ConsoleStack) -> None:
    page = browser_page.page
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{stack.console.url}/console")
    expect(page.locator("body")).to_have_attribute("data-loaded", "true", timeout=LOAD_TIMEOUT_MS)


def test_the_console_loads_cleanly_and_shows_the_live_version(
    browser_page: BrowserPage, stack: ConsoleStack
) -> None:
    _open(browser_page, stack)
    page = browser_page.page
    for _ in range(3):  # traffic for the next refresh to draw
        httpx.post(f"{stack.gateway.url}/v1/predict", json=EXAMPLE_OBSERVATION)
    latest = page.locator('#versions tr[data-version="2"]')
    expect(latest).to_contain_text("AVAILABLE")
    expect(latest).to_contain_text("answers by default")
    expect(latest).to_contain_text("canary")
    expect(page.locator('#versions tr[data-version="1"]')).to_contain_text("stable")
    expect(page.locator("#summary")).to_contain_text("answering version 2")
    expect(page.locator("#confusion tr")).to_have_count(8)  # the live version's card: 7 classes
    expect(page.locator("#history tbody tr")).to_have_count(2)  # versions 1 and 2 published
    # The live panels refresh by themselves (every 2 s): the requests above appear.
    expect(page.locator("#traffic-now tbody tr").first).to_contain_text("2", timeout=10_000)
    expect(page.locator("#traffic-now tbody")).not_to_contain_text("no prediction requests")
    browser_page.screenshot("console.png")
    browser_page.assert_clean()


def test_a_prediction_from_the_form_shows_the_gateways_answer(
    browser_page: BrowserPage, stack: ConsoleStack
) -> None:
    expected = httpx.post(f"{stack.gateway.url}/v1/predict", json=EXAMPLE_OBSERVATION).json()
    prediction = expected["predictions"][0]
    _open(browser_page, stack)
    page = browser_page.page
    page.locator("#predict-button").click()
    expect(page.locator("#predicted-cover-type")).to_have_text(
        f"{prediction['cover_type']} {prediction['cover_type_name']}"
    )
    expect(page.locator("#answered-by")).to_have_text("answered by covertype version 2")
    page.locator("#field-version").select_option("1")
    page.locator("#predict-button").click()
    expect(page.locator("#answered-by")).to_have_text("answered by covertype version 1")
    browser_page.screenshot("console-prediction.png")
    browser_page.assert_clean()


def test_a_bad_value_shows_the_apis_error_next_to_its_field(
    browser_page: BrowserPage, stack: ConsoleStack
) -> None:
    _open(browser_page, stack)
    page = browser_page.page
    page.locator("#field-Slope").fill("91")
    page.locator("#field-Elevation").fill("high")
    page.locator("#predict-button").click()
    expect(page.locator('.field-error[data-field="Slope"]')).to_contain_text(
        "out_of_domain: must be between 0 and 90"
    )
    expect(page.locator('.field-error[data-field="Elevation"]')).to_contain_text("wrong_type")
    expect(page.locator("#field-Slope")).to_have_class("invalid")
    expect(page.locator("#predict-message")).to_contain_text("invalid_input")
    browser_page.screenshot("console-invalid.png")
    # The 422 is the API's answer, shown on purpose: the only failed request allowed.
    problems = browser_page.problems()
    failed = problems.pop("failed requests", [])
    console_errors = problems.pop("console errors and warnings", [])
    assert problems == {}
    assert len(failed) == 1 and "/console/api/predict" in failed[0] and "422" in failed[0]
    assert all("422" in line for line in console_errors), console_errors
