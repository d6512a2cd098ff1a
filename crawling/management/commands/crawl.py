"""`manage.py crawl`: crawl a review site into the database, with progress bars and a summary; the crawler's
own log goes to var/log/crawl-<run id>.log."""

from __future__ import annotations

import argparse
import logging

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from core.jobs import failure_reason, run_in_foreground
from crawling.console import CrawlBars, crawl_log_path, crawl_summary, crawler_log
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
            self._run_queued(options["run_id"], fan_out=options["fan_out"])
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
        # The bars go to the real stream: Django's wrapper would end every tqdm redraw with a new line.
        console = CrawlBars(getattr(self.stderr, "_out", self.stderr), quiet=options["verbosity"] == 0)

        def work(run: CrawlRun) -> None:
            from crawling.runner import crawl_execute

            crawl_execute(run, console=console)

        log_path = crawl_log_path(run.pk)
        self.stdout.write(f"Crawl #{run.pk} of {run.params['start_url']} (crawler log: {log_path})")
        self.stdout.flush()
        with crawler_log(log_path):
            status = run_in_foreground(run, work)
            console.close()
        run.refresh_from_db()
        self.stdout.write(crawl_summary(run, log_path=log_path))
        if status != CrawlRun.Status.SUCCEEDED:
            raise CommandError(f"Crawl #{run.pk} {status}: {run.error}")

    def _run_queued(self, run_id: int, *, fan_out: bool) -> None:
        """Called by the RQ job, which moved the run to running and records the outcome: a failure's reason
        goes to it as the last line of this process's output ("CommandError: <reason>")."""
        from crawling.runner import crawl_execute

        run = CrawlRun.objects.filter(pk=run_id).first()
        if run is None:
            raise CommandError(f"There is no crawl run #{run_id}.")
        with crawler_log(crawl_log_path(run.pk)):
            try:
                crawl_execute(run, fan_out=fan_out)
            except Exception as exc:
                logger.exception("Crawl #%s failed", run.pk)
                raise CommandError(" ".join(failure_reason(exc).split())) from exc
