"""Runs one crawl in this process: categories (HTTP), discovery (Selenium), reviews (Scrapy)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db.models import Q

from brands.models import Category, Company
from crawling.categories import categories_crawl
from crawling.discovery import discover_companies
from crawling.fetching import FetchError, RobotsRules
from crawling.models import CrawlRun
from crawling.parsing import company_review_url
from crawling.progress import DATABASE_ERROR, CrawlConsole, CrawlTally
from crawling.services import (
    CrawlFailed,
    companies_discovered_store,
    crawl_run_count,
    crawl_run_fan_out,
    crawl_run_record_errors,
    crawl_run_record_progress,
)

logger = logging.getLogger(__name__)


def _flush(run: CrawlRun, tally: CrawlTally) -> None:
    counts, errors = tally.take()
    crawl_run_count(run_id=run.pk, counts=counts)
    crawl_run_record_errors(run_id=run.pk, errors=errors)


def _selected_subcategories(leaves: list[Category], wanted: list[str]) -> list[Category]:
    if not wanted:
        return leaves
    return [leaf for leaf in leaves if leaf.slug in wanted or (leaf.parent and leaf.parent.slug in wanted)]


def _known_companies(params: dict) -> list[dict]:
    """Companies already in the database (for --no-browser), optionally only in some categories."""
    companies = Company.objects.exclude(source_identifier="", domain__isnull=True)
    if params["categories"]:
        slugs = params["categories"]
        companies = companies.filter(Q(categories__slug__in=slugs) | Q(categories__parent__slug__in=slugs))
    rows = companies.distinct().order_by("pk").values_list("source_identifier", "domain")
    return [{"domain": identifier or domain, "categories": []} for identifier, domain in rows]


def plan_companies(run: CrawlRun, *, tally: CrawlTally, console: CrawlConsole | None = None) -> list[dict]:
    """Stages 1 and 2: which companies' review pages to read, [{domain, categories}]."""
    params = run.params
    if params["companies"]:
        return [{"domain": domain, "categories": []} for domain in params["companies"]]
    if params["no_browser"]:
        return _known_companies(params)
    robots = RobotsRules()
    crawl_run_record_progress(run_id=run.pk, progress=0.01, message="categories: reading /categories")
    try:
        leaves = categories_crawl(start_url=params["start_url"], robots=robots)
    except FetchError as exc:
        tally.error(exc.kind, exc.url, str(exc))
        _flush(run, tally)
        raise CrawlFailed(f"Could not read the category list at {exc.url}: {exc}") from exc
    tally.add("pages_fetched")
    subcategories = _selected_subcategories(leaves, params["categories"])
    if params["categories"] and not subcategories:
        raise CrawlFailed(f"No sub-category matches {', '.join(params['categories'])} on {params['start_url']}.")
    if console:
        console.notice(f"categories: {len(subcategories)} sub-categories to search for companies")
    done = {"n": 0}

    def on_page(category: Category, companies: list[dict[str, str]], found_so_far: int) -> None:
        new = companies_discovered_store(category=category, companies=companies)
        tally.add("companies_new", new)
        _flush(run, tally)
        done["n"] += 1
        crawl_run_record_progress(run_id=run.pk, companies_found=found_so_far)
        if console:
            console.progress("discovery", done["n"], 0)

    crawl_run_record_progress(run_id=run.pk, progress=0.02, message=f"discovery: {len(subcategories)} sub-categories")
    try:
        found = discover_companies(
            start_url=params["start_url"],
            subcategories=subcategories,
            render_timeout=params.get("render_timeout") or settings.CRAWL_RENDER_TIMEOUT,
            robots=robots,
            tally=tally,
            max_companies=params["max_companies"],
            on_page=on_page,
            console=console,
        )
    finally:
        _flush(run, tally)
    crawl_run_record_progress(run_id=run.pk, companies_found=len(found))
    return [{"domain": domain, "categories": entry["categories"]} for domain, entry in found.items()]


def crawl_execute(run: CrawlRun, *, fan_out: bool = False, console: CrawlConsole | None = None) -> None:
    """Every stage of one crawl run, recording counters, errors and progress on the run (and on `console`)."""
    tally = CrawlTally()
    companies = plan_companies(run, tally=tally, console=console)
    if run.params["max_companies"]:
        companies = companies[: run.params["max_companies"]]
    crawl_run_record_progress(run_id=run.pk, companies_total=len(companies))
    batch_size = settings.CRAWL_FANOUT_BATCH
    if fan_out and len(companies) > batch_size:
        crawl_run_fan_out(run=run, domains=[c["domain"] for c in companies], batch_size=batch_size)
        return
    crawl_run_record_progress(run_id=run.pk, progress=0.1, message=f"reviews: {len(companies)} companies")
    if companies:
        reviews_crawl(run, companies, console=console)
    crawl_run_record_progress(run_id=run.pk, progress=1.0, message=f"done: {len(companies)} companies")


def reviews_crawl(run: CrawlRun, companies: list[dict], *, console: CrawlConsole | None = None) -> None:
    """Stage 3: the Scrapy review spider over the companies, storing through the pipeline."""
    from scrapy.crawler import CrawlerProcess

    from crawling.settings import scrapy_settings
    from crawling.spiders.reviews import ReviewSpider

    params = run.params
    # robots.txt is checked here too (Scrapy's RobotsTxtMiddleware stays on as well): under a burst
    # of concurrent first requests it has let a disallowed page through in our tests.
    robots = RobotsRules()
    allowed, tally = [], CrawlTally()
    for company in companies:
        url = company_review_url(params["start_url"], company["domain"])
        if robots.allowed(url):
            allowed.append(company)
        else:
            tally.error("robots", url, "disallowed by robots.txt")
            tally.add("companies_done")
    _flush(run, tally)
    if console:
        console.notice(f"reviews: reading the review pages of {len(allowed)} companies")
    _share_daphne_event_loop()

    def progress(stage: str, done: int, total: int) -> None:
        # A function, not the console's bound method: Scrapy copies its settings, and the console holds a stream.
        if console is not None:
            console.progress(stage, done, total)

    process = CrawlerProcess(
        scrapy_settings(
            concurrency=params["concurrency"],
            run_id=run.pk,
            companies_total=len(companies),
            companies_done=len(companies) - len(allowed),
            progress=progress,
        ),
    )
    # configure_logging (above) sets Scrapy's loggers to DEBUG: one line per request. Keep the crawl's
    # log (crawling.console.crawler_log) at the site's level, INFO unless LOG_LEVEL says otherwise.
    level = max(logging.INFO, logging.getLevelName(settings.LOG_LEVEL))
    for name in ("scrapy", "twisted", "protego"):
        logging.getLogger(name).setLevel(level)
    crawler = process.create_crawler(ReviewSpider)
    process.crawl(
        crawler,
        start_url=params["start_url"],
        companies=allowed,
        max_pages=params["max_pages"],
        robots=robots,
    )
    process.start()
    failure = crawler.stats.get_value(DATABASE_ERROR)
    if failure:
        raise CrawlFailed(f"The crawl stopped because storing reviews failed: {failure}")


def _share_daphne_event_loop() -> None:
    """Make the reactor's asyncio loop the current one, so Scrapy's coroutines run on it.

    Django loads `daphne` (an installed app), which installs Twisted's asyncio reactor on a loop of
    its own without making it current; Scrapy would then schedule work on a loop that never runs.
    """
    import asyncio

    from twisted.internet import reactor

    loop = getattr(reactor, "_asyncioEventloop", None)
    if loop is not None:
        asyncio.set_event_loop(loop)
