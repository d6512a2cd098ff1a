"""/api/docs/ in headless Chromium: Swagger UI renders every endpoint and fetches nothing from outside."""

from __future__ import annotations

import json

import pytest

from tests.conftest import browser_marks, chromium

selenium = pytest.importorskip("selenium")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = browser_marks()


@pytest.fixture
def browser():
    driver = chromium(logs=("performance",))
    try:
        yield driver
    finally:
        driver.quit()


def requested_urls(driver) -> list[str]:
    """Every URL the page asked for, from Chromium's network log."""
    messages = [json.loads(entry["message"])["message"] for entry in driver.get_log("performance")]
    return [m["params"]["request"]["url"] for m in messages if m["method"] == "Network.requestWillBeSent"]


@pytest.mark.django_db(transaction=True)
def test_the_docs_render_every_endpoint_from_local_assets(live_server, browser):
    browser.get(f"{live_server.url}/api/docs/")

    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path"))
    shown = {
        element.text.replace("\u200b", "")
        for element in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    }
    urls = requested_urls(browser)

    assert {"/api/predict/", "/api/brands/", "/api/reviews/", "/api/staff/crawl-runs/"} <= shown
    assert f"{live_server.url}/api/schema/" in urls
    outside = [url for url in urls if not url.startswith((live_server.url, "data:", "blob:"))]
    assert outside == []
