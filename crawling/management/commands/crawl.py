"""`manage.py crawl`: crawl a review site into the database, with a progress bar and a summary."""

from __future__ import annotations

import argparse
import logging

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from core.jobs import failure_reason, run_work
from crawling.models import CrawlRun
from crawling.options import DEFAULT_START_URL, NO_BROWSER_HELP, NUMBER_OPTIONS, START_URL_HELP
from crawling.services import crawl_run_start_here, crawl_runs_mark_abandoned

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Crawl a Trustpilot-style review site: categories, companies (Selenium), reviews (Scrapy)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--start-url", default=DEFAULT_START_URL, help=START_URL_HELP)
        parser.add_argument("--category", action="append", default=[], metavar="SLUG", help="Only this category.")
        parser.add_argument("--company", action="append", default=[], metavar="DOMAIN", help="Only this company.")
        for option in NUMBER_OPTIONS:  # checked against their bounds by the service, like every entry point
            bounds = f" From {option.minimum:g} to {option.maximum:g}."
            parser.add_argument(option.flag, type=option.type, metavar=option.metavar, help=option.help + bounds)
        parser.add_argument("--no-browser", action="store_true", help=NO_BROWSER_HELP)
        parser.add_argument("--run-id", type=int, help=argparse.SUPPRESS)
        parser.add_argument("--fan-out", action="store_true", help=argparse.SUPPRESS)

    def handle(self, *args, **options) -> None:
        if options["run_id"]:
            # Called by the RQ job, which moved the run to running and records the outcome: a failure's
            # reason goes to it as the last line of this process's output ("CommandError: <reason>").
            from crawling.runner import crawl_execute

            run = CrawlRun.objects.filter(pk=options["run_id"]).first()
            if run is None:
                raise CommandError(f"There is no crawl run #{options['run_id']}.")
            try:
                crawl_execute(run, fan_out=options["fan_out"])
            except Exception as exc:
                logger.exception("Crawl #%s failed", run.pk)
                raise CommandError(" ".join(failure_reason(exc).split())) from exc
            return
        params = {
            "start_url": options["start_url"],
            "categories": options["category"],
            "companies": options["company"],
            "no_browser": options["no_browser"],
            **{option.name: options[option.name] for option in NUMBER_OPTIONS},
        }
        if abandoned := crawl_runs_mark_abandoned():
            self.stdout.write(f"Marked {abandoned} crawl(s) whose process had stopped as failed.")
        try:
            run = crawl_run_start_here(params=params)
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

        self.stdout.write(f"Crawl #{run.pk} of {run.params['start_url']}")
        status = run_work(run, work)
        for bar in bars.values():
            bar.close()
        run.refresh_from_db()
        self.stdout.write(crawl_summary(run))
        if status != CrawlRun.Status.SUCCEEDED:
            raise CommandError(f"Crawl #{run.pk} {status}: {run.error}")


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
