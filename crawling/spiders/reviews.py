"""The review spider: every company's review pages, `__NEXT_DATA__` first, markup as fallback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawling.items import CompanyPageItem
from crawling.middlewares import exception_kind
from crawling.parsing import PageParseError, company_review_url, parse_company_page
from crawling.progress import CrawlStats


class ReviewSpider(scrapy.Spider):
    """Reads `/review/<domain>?page=N` for each company, following pagination on the start host."""

    name = "reviews"

    def __init__(
        self,
        *,
        start_url: str,
        companies: list[dict[str, Any]],
        max_pages: int | None = None,
        robots: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.start_url = start_url
        self.companies = companies
        self.max_pages = max_pages
        self.robots = robots  # crawling.fetching.RobotsRules, already loaded for this host (no I/O here)

    @property
    def tally(self) -> CrawlStats:
        """What the spider counts goes into the crawl's stats, where the pipeline takes it from."""
        return CrawlStats(self.crawler.stats)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for company in self.companies:
            meta = {"domain": company["domain"], "page_number": 1, "category_slugs": company.get("categories", [])}
            url = company_review_url(self.start_url, company["domain"])
            # dont_filter: a redirect back to the same page must run into REDIRECT_MAX_TIMES (and be
            # recorded), not vanish in the duplicate filter; `visited` stops pagination loops instead.
            yield scrapy.Request(
                url, callback=self.parse, errback=self.on_error, meta={**meta, "visited": [url]}, dont_filter=True
            )

    def parse(self, response: scrapy.http.Response) -> Any:
        self.tally.add("pages_fetched")
        meta = response.meta
        try:
            page = parse_company_page(response.text, url=response.url)
        except (PageParseError, UnicodeDecodeError, AttributeError) as exc:
            self.tally.error("parse", response.url, str(exc))
            self.tally.add("companies_done")
            return
        if page["source"] != "next_data":
            self.tally.error("next_data_missing", response.url, "fell back to the review-card markup")
        yield CompanyPageItem(
            url=response.url,
            domain=meta["domain"],
            page_number=meta["page_number"],
            category_slugs=meta["category_slugs"],
            company=page["company"],
            reviews=page["reviews"],
            pagination=page["pagination"],
            source=page["source"],
        )
        next_url = page["next_url"]
        visited = meta["visited"]
        if next_url and self.robots is not None and not self.robots.allowed(next_url):
            self.tally.error("robots", next_url, "disallowed by robots.txt")
            next_url = None
        if next_url and next_url not in visited and (self.max_pages is None or meta["page_number"] < self.max_pages):
            next_meta = {
                "domain": meta["domain"],
                "page_number": meta["page_number"] + 1,
                "category_slugs": meta["category_slugs"],
                "visited": [*visited, next_url],
            }
            yield scrapy.Request(next_url, callback=self.parse, errback=self.on_error, meta=next_meta, dont_filter=True)
        else:
            self.tally.add("companies_done")

    def on_error(self, failure: Failure) -> None:
        """Count the failure by kind with its URL; the crawl goes on with the other pages."""
        request = failure.request
        kind, detail = error_kind(failure)
        self.tally.error(kind, request.url, detail)
        self.tally.add("companies_done")


def error_kind(failure: Failure) -> tuple[str, str]:
    """A short kind (http_404, timeout, robots, too_large, redirects, connection, ...) and a message."""
    value = failure.value
    message = str(value) or type(value).__name__
    if failure.check(HttpError):
        return f"http_{value.response.status}", message
    if failure.check(IgnoreRequest):
        lowered = message.lower()
        if "robots.txt" in lowered:
            return "robots", message
        if "redirect" in lowered:
            return "redirects", message
        return "ignored", message
    if "maxsize" in message.lower() or "max size" in message.lower() or "download max" in message.lower():
        return "too_large", message
    return exception_kind(value), message
