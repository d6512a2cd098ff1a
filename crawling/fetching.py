"""Plain HTTP for the pages that need no browser (`/categories`), with the crawler's manners."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
import urllib.robotparser
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from crawling.middlewares import retry_after_seconds

RETRY_STATUSES = {429, 500, 502, 503, 504}


class FetchError(Exception):
    """A page could not be fetched; `kind` says why (http_404, robots, timeout, ...)."""

    def __init__(self, kind: str, url: str, message: str) -> None:
        super().__init__(message)
        self.kind, self.url = kind, url


class RobotsRules:
    """robots.txt of each host, fetched once; everything is allowed when CRAWL_OBEY_ROBOTS is off."""

    def __init__(self) -> None:
        self._parsers: dict[str, urllib.robotparser.RobotFileParser | None] = {}

    def allowed(self, url: str) -> bool:
        if not settings.CRAWL_OBEY_ROBOTS:
            return True
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._parsers:
            self._parsers[origin] = self._load(origin)
        parser = self._parsers[origin]
        return True if parser is None else parser.can_fetch(settings.CRAWL_USER_AGENT, url)

    @staticmethod
    def _load(origin: str) -> urllib.robotparser.RobotFileParser | None:
        parser = urllib.robotparser.RobotFileParser()
        try:
            body = _get(urlunsplit((*urlsplit(origin)[:2], "/robots.txt", "", "")))
        except (urllib.error.URLError, OSError):
            return None  # no robots.txt (or unreachable): nothing is disallowed
        parser.parse(body.splitlines())
        return parser


def _get(url: str) -> str:
    if urlsplit(url).scheme not in ("http", "https"):
        raise FetchError("bad_url", url, "only http(s) addresses are fetched")
    request = urllib.request.Request(url, headers={"User-Agent": settings.CRAWL_USER_AGENT})  # noqa: S310
    with urllib.request.urlopen(request, timeout=settings.CRAWL_DOWNLOAD_TIMEOUT) as response:  # noqa: S310
        body = response.read(settings.CRAWL_DOWNLOAD_MAXSIZE + 1)
        if len(body) > settings.CRAWL_DOWNLOAD_MAXSIZE:
            raise FetchError(
                "too_large", url, f"larger than CRAWL_DOWNLOAD_MAXSIZE ({settings.CRAWL_DOWNLOAD_MAXSIZE})"
            )
        return body.decode(response.headers.get_content_charset() or "utf-8", errors="replace")


def fetch_text(url: str, *, robots: RobotsRules) -> str:
    """GET a page politely: robots.txt, user agent, timeout, bounded retries honouring Retry-After."""
    if not robots.allowed(url):
        raise FetchError("robots", url, "disallowed by robots.txt")
    attempts = settings.CRAWL_MAX_RETRIES + 1
    for attempt in range(attempts):
        try:
            return _get(url)
        except urllib.error.HTTPError as exc:
            if exc.code not in RETRY_STATUSES or attempt == attempts - 1:
                raise FetchError(f"http_{exc.code}", url, str(exc)) from exc
            delay = retry_after_seconds(exc.headers.get("Retry-After"), limit=settings.CRAWL_MAX_RETRY_AFTER)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            if attempt == attempts - 1:
                raise FetchError("connection", url, str(exc)) from exc
            delay = None
        time.sleep(delay if delay is not None else 0.5 * 2**attempt)
    raise FetchError("connection", url, "no attempts left")  # pragma: no cover
