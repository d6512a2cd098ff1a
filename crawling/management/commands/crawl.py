"""`manage.py crawl`: crawl a review site into the database, with a progress bar and a summary."""

from __future__ import annotations

import argparse

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from core.jobs import execute_run
from crawling.models import CrawlRun
from crawling.services import DEFAULT_START_URL, crawl_run_create, crawl_runs_mark_abandoned


class Command(BaseCommand):
    help = "Crawl a Trustpilot-style review site: categories, companies (Selenium), reviews (Scrapy)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--start-url", default=DEFAULT_START_URL, help=f"The site (default {DEFAULT_START_URL}).")
        parser.add_argument("--category", action="append", default=[], metavar="SLUG", help="Only this category.")
        parser.add_argument("--company", action="append", default=[], metavar="DOMAIN", help="Only this company.")
        parser.add_argument("--max-companies", type=int, metavar="N", help="Stop after N companies.")
        parser.add_argument("--max-pages", type=int, metavar="N", help="At most N review pages per company.")
        parser.add_argument("--concurrency", type=int, metavar="N", help="Parallel requests (CRAWL_CONCURRENCY).")
        parser.add_argument("--no-browser", action="store_true", help="Skip discovery; crawl known companies.")
        parser.add_argument("--render-timeout", type=float, metavar="S", help="Seconds a listing may take to render.")
        parser.add_argument("--run-id", type=int, help=argparse.SUPPRESS)
        parser.add_argument("--fan-out", action="store_true", help=argparse.SUPPRESS)

    def handle(self, *args, **options) -> None:
        if options["run_id"]:
            # Called by the RQ job, which already moved the run to running and records the outcome.
            from crawling.runner import crawl_execute

            run = CrawlRun.objects.filter(pk=options["run_id"]).first()
            if run is None:
                raise CommandError(f"There is no crawl run #{options['run_id']}.")
            crawl_execute(run, fan_out=options["fan_out"])
            return
        params = {
            "start_url": options["start_url"],
            "categories": options["category"],
            "companies": options["company"],
            "max_companies": options["max_companies"],
            "max_pages": options["max_pages"],
            "concurrency": options["concurrency"],
            "no_browser": options["no_browser"],
            "render_timeout": options["render_timeout"],
        }
        if abandoned := crawl_runs_mark_abandoned():
            self.stdout.write(f"Marked {abandoned} crawl(s) whose process had stopped as failed.")
        try:
            run = crawl_run_create(params=params)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        bars: dict[str, tqdm] = {}
        quiet = options["verbosity"] == 0

        def progress(stage: str, done: int, total: int) -> None:
            bar = bars.get(stage)
            if bar is None:
                bar = bars[stage] = tqdm(total=total or None, desc=stage, unit=" companies" if total else " pages",
                                         disable=quiet, dynamic_ncols=True)  # fmt: skip
            bar.update(done - bar.n)

        def work(run: CrawlRun) -> None:
            from crawling.runner import crawl_execute

            crawl_execute(run, progress=progress)

        self.stdout.write(f"Crawl #{run.pk} of {params['start_url']}")
        status = execute_run(run._meta.label, run.pk, work)
        for bar in bars.values():
            bar.close()
        run.refresh_from_db()
        self.stdout.write(crawl_summary(run))
        if status != CrawlRun.Status.SUCCEEDED:
            raise CommandError(f"Crawl #{run.pk} {status}: {run.error.splitlines()[0] if run.error else ''}")


def crawl_summary(run: CrawlRun) -> str:
    """The closing summary: counters, errors by kind and the last few failures."""
    lines = [
        f"Crawl #{run.pk}: {run.status}",
        f"  pages fetched     {run.pages_fetched}",
        f"  companies found   {run.companies_found} (crawled {run.companies_done} of {run.companies_total})",
        f"  reviews new       {run.reviews_new}",
        f"  reviews updated   {run.reviews_updated}",
        f"  reviews skipped   {run.reviews_skipped}",
    ]
    if run.errors_by_kind:
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(run.errors_by_kind.items()))
        lines.append(f"  errors            {kinds}")
        for error in run.last_errors[-5:]:
            lines.append(f"    {error['kind']}: {error['url']}")
    return "\n".join(lines)
