"""Downloader middleware: bounded retries with back-off that honours Retry-After on 429 and 503."""

from __future__ import annotations

import logging
from email.utils import parsedate_to_datetime

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.response import response_status_message
from twisted.internet import reactor
from twisted.internet.task import deferLater

from crawling.progress import CrawlStats

logger = logging.getLogger(__name__)


def retry_after_seconds(value: bytes | str | None, *, limit: float) -> float | None:
    """Seconds a `Retry-After` header asks for (delta seconds or an HTTP date), capped at `limit`."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            from datetime import UTC, datetime

            seconds = (parsedate_to_datetime(text) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return max(0.0, min(seconds, limit))


def exception_kind(exception: BaseException) -> str:
    """A short name for a download failure: timeout, connection, or the exception's class."""
    name = type(exception).__name__.lower()
    if "timeout" in name or "timedout" in name:
        return "timeout"
    if any(word in name for word in ("connection", "dnslookup", "responsenever", "responsefailed")):
        return "connection"
    return name.removesuffix("error") or name


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retry middleware, waiting before each retry: Retry-After when given, else exponential."""

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.base_delay = settings.getfloat("RETRY_BACKOFF_BASE", 0.5)
        self.max_delay = settings.getfloat("RETRY_BACKOFF_MAX", 60.0)
        self.max_retry_after = settings.getfloat("RETRY_AFTER_MAX", 120.0)

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        retry = self._retry(request, response_status_message(response.status))
        self._record(
            request, f"retried_http_{response.status}" if retry else "", response_status_message(response.status)
        )
        if retry is None:
            return response
        delay = None
        if response.status in (429, 503):
            delay = retry_after_seconds(response.headers.get("Retry-After"), limit=self.max_retry_after)
        await self._wait(request, delay)
        return retry

    async def process_exception(self, request: Request, exception: Exception) -> Request | None:
        if not isinstance(exception, self.exceptions_to_retry) or request.meta.get("dont_retry", False):
            return None
        retry = self._retry(request, exception)
        self._record(request, f"retried_{exception_kind(exception)}" if retry else "", str(exception))
        if retry is not None:
            await self._wait(request, None)
        return retry

    def _record(self, request: Request, kind: str, detail: str) -> None:
        """Count a retry in the crawl's stats (a final failure is counted by the spider's errback)."""
        if kind:
            CrawlStats(self.crawler.stats).error(kind, request.url, detail)

    async def _wait(self, request: Request, delay: float | None) -> None:
        if delay is None:
            attempt = request.meta.get("retry_times", 0)
            delay = min(self.base_delay * (2**attempt), self.max_delay)
        if delay > 0:
            await maybe_deferred_to_future(deferLater(reactor, delay, lambda: None))
