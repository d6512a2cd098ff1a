"""Stage 2: company discovery on sub-category pages rendered by JavaScript, in headless Chromium.

The server's HTML of a sub-category page holds no company links; a script renders the cards. So a
real browser loads each page, an explicit wait watches for the cards (or the pagination that comes
with them), and `pagination-button-next` leads to the next page until it is disabled.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from crawling.fetching import RobotsRules
from crawling.parsing import page_url, parse_listing_companies, same_host_url
from crawling.progress import CrawlTally

CARD = 'a[href*="/review/"]'
NEXT = 'a[name="pagination-button-next"]'
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,2000",
)


@contextmanager
def browser() -> Iterator[webdriver.Remote]:
    """A headless Chromium: the Selenium Grid at SELENIUM_REMOTE_URL when set, else the local one."""
    options = webdriver.ChromeOptions()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-agent={settings.CRAWL_USER_AGENT}")
    profile = None
    if settings.SELENIUM_REMOTE_URL:
        driver = webdriver.Remote(command_executor=settings.SELENIUM_REMOTE_URL, options=options)
    else:
        profile = tempfile.mkdtemp(prefix="starling-chromium-")
        options.add_argument(f"--user-data-dir={profile}")
        options.binary_location = settings.CHROMIUM_BINARY
        driver = webdriver.Chrome(service=Service(settings.CHROMEDRIVER_PATH), options=options)
    try:
        yield driver
    finally:
        try:
            driver.quit()
        finally:
            if profile:
                shutil.rmtree(profile, ignore_errors=True)


def _rendered(driver: webdriver.Remote) -> bool:
    return bool(driver.find_elements(By.CSS_SELECTOR, CARD) or driver.find_elements(By.CSS_SELECTOR, NEXT))


def _settled() -> Callable[[webdriver.Remote], bool]:
    """A wait condition that holds once the number of cards stops changing between two polls."""
    last = {"n": -1}

    def condition(driver: webdriver.Remote) -> bool:
        n = len(driver.find_elements(By.CSS_SELECTOR, CARD))
        settled, last["n"] = n == last["n"], n
        return settled

    return condition


def listing_companies(
    driver: webdriver.Remote,
    url: str,
    *,
    render_timeout: float,
    robots: RobotsRules,
    tally: CrawlTally,
    max_pages: int = 1000,
) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """Yield (page url, companies on it) for each page of one sub-category, following the next button."""
    driver.set_page_load_timeout(render_timeout)
    seen_pages: set[str] = set()
    current: str | None = page_url(url, 1)
    while current and current not in seen_pages and len(seen_pages) < max_pages:
        seen_pages.add(current)
        if not robots.allowed(current):
            tally.error("robots", current, "disallowed by robots.txt")
            return
        try:
            driver.get(current)
            WebDriverWait(driver, render_timeout, poll_frequency=0.05).until(_rendered)
            WebDriverWait(driver, min(render_timeout, 5.0), poll_frequency=0.1).until(_settled())
        except TimeoutException:
            tally.error("render_timeout", current, f"no company cards after {render_timeout:g}s")
            return
        except WebDriverException as exc:
            tally.error("browser", current, exc.msg or type(exc).__name__)
            return
        tally.add("pages_fetched")
        yield current, parse_listing_companies(driver.page_source)
        current = _next_page(driver, current)


def _next_page(driver: webdriver.Remote, current: str) -> str | None:
    for link in driver.find_elements(By.CSS_SELECTOR, NEXT):
        href = link.get_attribute("href")
        if href and link.get_attribute("aria-disabled") != "true":
            return same_host_url(href, base=current)
    return None


def discover_companies(
    *,
    start_url: str,
    subcategories: list[Any],
    render_timeout: float,
    robots: RobotsRules,
    tally: CrawlTally,
    max_companies: int | None = None,
    on_page: Callable[[Any, list[dict[str, str]], int], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Walk each sub-category's pages; returns {domain: {name, categories: [slugs]}} in discovery order."""
    found: dict[str, dict[str, Any]] = {}
    with browser() as driver:
        for category in subcategories:
            url = f"{start_url.rstrip('/')}/categories/{category.slug}"
            for _, companies in listing_companies(
                driver, url, render_timeout=render_timeout, robots=robots, tally=tally
            ):
                fresh = []
                for company in companies:
                    entry = found.get(company["domain"])
                    if entry is None:
                        if max_companies is not None and len(found) >= max_companies:
                            continue
                        entry = found[company["domain"]] = {"name": company["name"], "categories": []}
                    if category.slug not in entry["categories"]:
                        entry["categories"].append(category.slug)
                        fresh.append(company)
                if on_page is not None:
                    on_page(category, fresh, len(found))
            if max_companies is not None and len(found) >= max_companies:
                break
    return found
