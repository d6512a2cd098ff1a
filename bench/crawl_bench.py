"""Crawl benchmark: our review stage into the database vs a bare Scrapy spider writing JSON lines.

    .venv/bin/python bench/crawl_bench.py [--companies 200] [--pages 5] [--reviews 20] [--pairs 3]

Serves a local review site (tests/review_site, in its own process) with N companies x P pages x R
reviews, times discovery (categories over HTTP + Selenium listing pages) once, then alternates
`manage.py crawl --no-browser` (Scrapy -> pipeline -> batched upserts into a fresh SQLite file) with
a bare Scrapy spider (same parser, same Scrapy politeness settings, items to a JSON-lines feed).
Reports reviews/s and pages/s of each and the median of per-pair ratios. Not run by `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def bare_spider(url: str, domains_file: str, out: str, concurrency: int, report: str) -> None:
    """The reference: a minimal spider that parses each page and writes its reviews as JSON lines."""
    import scrapy
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    from crawling.parsing import company_review_url, parse_company_page

    domains = Path(domains_file).read_text().split()
    timing: dict[str, float] = {}

    class BareSpider(scrapy.Spider):
        name = "bare"

        async def start(self):
            for domain in domains:
                yield scrapy.Request(company_review_url(url, domain), dont_filter=True)

        def parse(self, response):
            page = parse_company_page(response.text, url=response.url)
            yield from page["reviews"]
            if page["next_url"]:
                yield scrapy.Request(page["next_url"], dont_filter=True)

    process = CrawlerProcess(
        {
            "USER_AGENT": "StarlingBench/1.0",
            "ROBOTSTXT_OBEY": True,
            "CONCURRENT_REQUESTS": concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
            "AUTOTHROTTLE_ENABLED": True,
            "AUTOTHROTTLE_START_DELAY": 0.1,
            "AUTOTHROTTLE_TARGET_CONCURRENCY": float(concurrency),
            "COOKIES_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
            "REMOTE_CONTROL_ENABLED": False,
            "LOG_LEVEL": "WARNING",
            "FEEDS": {out: {"format": "jsonlines"}},
        }
    )
    crawler = process.create_crawler(BareSpider)

    def opened() -> None:
        timing["start"] = time.perf_counter()

    def closed() -> None:
        timing["end"] = time.perf_counter()

    crawler.signals.connect(opened, signals.spider_opened)  # (signals hold weak references)
    crawler.signals.connect(closed, signals.spider_closed)
    process.crawl(crawler)
    process.start()
    stats = crawler.stats.get_stats()
    Path(report).write_text(
        json.dumps(
            {
                "seconds": timing["end"] - timing["start"],
                "pages": stats.get("response_received_count", 0) - stats.get("robotstxt/response_count", 0),
                "reviews": stats.get("item_scraped_count", 0),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--companies", type=int, default=200)
    parser.add_argument("--pages", type=int, default=5)
    parser.add_argument("--reviews", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--bare", nargs=4, metavar=("URL", "DOMAINS", "OUT", "REPORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        bare_spider(args.bare[0], args.bare[1], args.bare[2], args.concurrency, args.bare[3])
        return

    work = Path(tempfile.mkdtemp(prefix="starling-crawl-bench-"))
    env = {**os.environ, "SQLITE_PATH": str(work / "bench.sqlite3"), "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("DATABASE_URL", None)
    os.environ.update({k: env[k] for k in ("SQLITE_PATH", "DJANGO_SETTINGS_MODULE")})
    os.environ.pop("DATABASE_URL", None)
    subs = args.companies // 10 + 1  # one spare: a company may be listed in two sub-categories
    site = subprocess.Popen(
        [sys.executable, "-m", "tests.review_site", "--subcategories", str(subs), "--companies-per-sub", "10",
         "--pages", str(args.pages), "--reviews-per-page", str(args.reviews), "--listing-page-size", "5"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = site.stdout.readline().strip()
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        import django

        django.setup()
        from brands.models import Company
        from crawling.models import CrawlRun
        from reviews.models import ScrapedReview

        discovery = measure_discovery(url)
        domains = list(Company.objects.values_list("source_identifier", flat=True))
        domains_file = work / "domains.txt"
        domains_file.write_text("\n".join(domains))
        ours, bare = [], []
        for pair in range(args.pairs):
            ScrapedReview.objects.all().delete()
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "manage.py", "crawl", "--start-url", url, "--no-browser", "-v0",
                 "--concurrency", str(args.concurrency)],
                cwd=ROOT, env=env, check=True, capture_output=True,
            )  # fmt: skip
            wall = time.perf_counter() - started
            run = CrawlRun.objects.order_by("-pk").first()
            seconds = (run.finished_at - run.started_at).total_seconds()
            stored = ScrapedReview.objects.count()
            ours.append({"seconds": seconds, "wall": wall, "pages": run.pages_fetched, "reviews": stored})
            out, report = work / f"bare-{pair}.jsonl", work / f"bare-{pair}.json"
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, __file__, "--concurrency", str(args.concurrency), "--bare", url, str(domains_file),
                 str(out), str(report)],
                cwd=ROOT, env=env, check=True,
            )  # fmt: skip
            bare.append({**json.loads(report.read_text()), "wall": time.perf_counter() - started})
            print(f"pair {pair + 1}: ours {ours[-1]}  bare {bare[-1]}", flush=True)
        print_table(args, discovery, ours, bare, len(domains))
    finally:
        site.terminate()
        site.wait()


def measure_discovery(url: str) -> dict[str, float]:
    """Stage 1 + 2 once: /categories over HTTP, then every listing page in headless Chromium."""
    from crawling.categories import categories_crawl
    from crawling.discovery import discover_companies
    from crawling.fetching import RobotsRules
    from crawling.progress import CrawlTally
    from crawling.services import companies_discovered_store

    tally, robots = CrawlTally(), RobotsRules()
    started = time.perf_counter()
    leaves = categories_crawl(start_url=url, robots=robots)
    found = discover_companies(
        start_url=url,
        subcategories=leaves,
        render_timeout=20,
        robots=robots,
        tally=tally,
        on_page=lambda category, companies, n: companies_discovered_store(category=category, companies=companies),
    )
    seconds = time.perf_counter() - started
    pages = tally.take()[0].get("pages_fetched", 0)
    return {"seconds": seconds, "pages": pages, "companies": len(found)}


def print_table(args, discovery, ours, bare, companies) -> None:
    # Ratio of whole-process wall times (both include interpreter and Scrapy start; ours also Django's).
    ratios = [(o["reviews"] / o["wall"]) / (b["reviews"] / b["wall"]) for o, b in zip(ours, bare, strict=True)]
    med = statistics.median
    print()
    print(f"site: {companies} companies x {args.pages} pages x {args.reviews} reviews; concurrency {args.concurrency};"
          f" {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"discovery: {discovery['pages']} listing pages in {discovery['seconds']:.1f} s = "
          f"{discovery['pages'] / discovery['seconds']:.2f} pages/s ({discovery['companies']} companies)")  # fmt: skip
    print("| path | reviews | pages | crawl s | reviews/s (crawl) | pages/s (crawl) | wall s | reviews/s (wall) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, rows in (("ours: Scrapy -> DB", ours), ("bare Scrapy -> JSON lines", bare)):
        seconds = med(r["seconds"] for r in rows)
        reviews_per_s = med(r["reviews"] / r["seconds"] for r in rows)
        pages_per_s = med(r["pages"] / r["seconds"] for r in rows)
        wall = med(r["wall"] for r in rows)
        per_wall = med(r["reviews"] / r["wall"] for r in rows)
        print(f"| {name} | {rows[0]['reviews']} | {rows[0]['pages']} | {seconds:.2f} | {reviews_per_s:.0f}"
              f" | {pages_per_s:.0f} | {wall:.1f} | {per_wall:.0f} |")  # fmt: skip
    print(f"ratio ours/bare, reviews/s over wall time (median of {len(ratios)} pairs): {med(ratios):.2f}"
          f"  pairs: {[round(r, 2) for r in ratios]}")  # fmt: skip


if __name__ == "__main__":
    main()
