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
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from crawling.fetching import RobotsRules
from crawling.parsing import page_url, parse_listing_companies, same_host_url
from crawling.progress import CrawlConsole, CrawlTally
from crawling.services import CrawlFailed

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


BROWSER_HELP = (
    "Install Chromium and chromedriver (Debian/Ubuntu: `apt-get install chromium chromium-driver`), "
    "set CHROMIUM_BINARY and CHROMEDRIVER_PATH to where they are, or set SELENIUM_REMOTE_URL to a Selenium Grid. "
    "`--no-browser` crawls only the companies already known, with no browser."
)


class BrowserUnavailable(CrawlFailed):
    """Company discovery needs a headless Chromium and none could be started."""

    code = "browser_unavailable"


def browser_missing_reason() -> str:
    """Why the local Chromium cannot start ('' when its files are there or a Selenium Grid is used)."""
    if settings.SELENIUM_REMOTE_URL:
        return ""
    missing = [
        f"{what} not found at {path} ({setting})"
        for what, path, setting in (
            ("Chromium", settings.CHROMIUM_BINARY, "CHROMIUM_BINARY"),
            ("chromedriver", settings.CHROMEDRIVER_PATH, "CHROMEDRIVER_PATH"),
        )
        if not Path(path).is_file()
    ]
    return "; ".join(missing)


def _start_driver(options: webdriver.ChromeOptions) -> webdriver.Remote:
    """The Selenium Grid's browser at SELENIUM_REMOTE_URL, else the local Chromium; BrowserUnavailable if neither."""
    if missing := browser_missing_reason():
        raise BrowserUnavailable(f"Company discovery needs a headless Chromium: {missing}. {BROWSER_HELP}")
    try:
        if settings.SELENIUM_REMOTE_URL:
            return webdriver.Remote(command_executor=settings.SELENIUM_REMOTE_URL, options=options)
        options.binary_location = settings.CHROMIUM_BINARY
        return webdriver.Chrome(service=Service(settings.CHROMEDRIVER_PATH), options=options)
    except WebDriverException as exc:
        where = settings.SELENIUM_REMOTE_URL or f"{settings.CHROMIUM_BINARY} with {settings.CHROMEDRIVER_PATH}"
        cause = exc.__cause__ or exc  # "Unable to obtain driver for chrome" says less than its cause
        detail = " ".join((getattr(cause, "msg", None) or str(cause) or type(cause).__name__).split())[:200]
        raise BrowserUnavailable(f"Could not start the browser ({where}): {detail}. {BROWSER_HELP}") from exc
    except (OSError, urllib3.exceptions.HTTPError) as exc:  # the Grid's address does not answer
        reason = getattr(exc, "reason", None) or exc
        raise BrowserUnavailable(
            f"Could not reach the Selenium Grid at {settings.SELENIUM_REMOTE_URL} ({type(reason).__name__}). "
            f"{BROWSER_HELP}"
        ) from exc


@contextmanager
def browser() -> Iterator[webdriver.Remote]:
    """A headless Chromium: the Selenium Grid at SELENIUM_REMOTE_URL when set, else the local one."""
    options = webdriver.ChromeOptions()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-agent={settings.CRAWL_USER_AGENT}")
    profile = None
    if not settings.SELENIUM_REMOTE_URL:
        profile = tempfile.mkdtemp(prefix="starling-chromium-")
        options.add_argument(f"--user-data-dir={profile}")
    try:
        driver = _start_driver(options)
    except BrowserUnavailable:
        if profile:
            shutil.rmtree(profile, ignore_errors=True)
        raise
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
    console: CrawlConsole | None = None,
) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """Yield (page url, companies on it) for each page of one sub-category, following the next button.

    `console`, when given, is told which page is rendering (a render can take up to `render_timeout`)
    and about each page that never rendered.
    """
    driver.set_page_load_timeout(render_timeout)
    seen_pages: set[str] = set()
    current: str | None = page_url(url, 1)
    while current and current not in seen_pages and len(seen_pages) < max_pages:
        seen_pages.add(current)
        if not robots.allowed(current):
            tally.error("robots", current, "disallowed by robots.txt")
            return
        if console is not None:
            parts = urlsplit(current)
            console.waiting("discovery", f"rendering {parts.path}{'?' if parts.query else ''}{parts.query}")
        try:
            driver.get(current)
            WebDriverWait(driver, render_timeout, poll_frequency=0.05).until(_rendered)
            WebDriverWait(driver, min(render_timeout, 5.0), poll_frequency=0.1).until(_settled())
        except TimeoutException:
            tally.error("render_timeout", current, f"no company cards after {render_timeout:g}s")
            if console is not None:
                console.notice(f"discovery: {current} showed no companies within {render_timeout:g}s; skipped it")
            return
        except WebDriverException as exc:
            tally.error("browser", current, exc.msg or type(exc).__name__)
            if console is not None:
                console.notice(f"discovery: the browser failed on {current}; skipped it (details in the log)")
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
    console: CrawlConsole | None = None,
) -> dict[str, dict[str, Any]]:
    """Walk each sub-category's pages; returns {domain: {name, categories: [slugs]}} in discovery order."""
    found: dict[str, dict[str, Any]] = {}
    with browser() as driver:
        for category in subcategories:
            url = f"{start_url.rstrip('/')}/categories/{category.slug}"
            for _, companies in listing_companies(
                driver, url, render_timeout=render_timeout, robots=robots, tally=tally, console=console
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
