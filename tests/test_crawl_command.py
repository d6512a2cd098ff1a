"""`manage.py crawl`: bad options explained, nothing left behind, a quiet console (bars and a summary) with the
crawler's own log in a file, and a missing browser explained."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from brands.models import Company
from crawling.models import CrawlRun
from crawling.services import crawl_params_clean
from reviews.models import ScrapedReview
from tests.review_site.checks import run_crawl
from tests.review_site.content import add_faults, build_site
from tests.review_site.server import ReviewSite

pytestmark = pytest.mark.django_db


def test_bad_options_are_explained_and_no_run_is_recorded():
    with pytest.raises(CommandError, match="Give an http"):
        call_command("crawl", "--start-url", "ftp://example.com")
    with pytest.raises(CommandError, match="max_pages must be at least 1"):
        call_command("crawl", "--max-pages", "0")
    assert CrawlRun.objects.count() == 0


def test_params_are_cleaned_with_defaults(settings):
    params = crawl_params_clean({"start_url": "http://127.0.0.1:8000/", "companies": "b.com, a.com a.com"})
    assert params["start_url"] == "http://127.0.0.1:8000"
    assert params["companies"] == ["a.com", "b.com"]
    assert params["concurrency"] == settings.CRAWL_CONCURRENCY
    assert (params["max_pages"], params["no_browser"]) == (None, False)
    with pytest.raises(ValidationError):
        crawl_params_clean({"max_companies": "lots"})


def test_retry_after_is_read_as_seconds_or_a_date_and_capped():
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    from crawling.middlewares import retry_after_seconds

    assert retry_after_seconds(b"3", limit=120) == 3
    assert retry_after_seconds("999", limit=120) == 120
    in_a_minute = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    assert 50 < retry_after_seconds(in_a_minute, limit=120) <= 60
    assert retry_after_seconds("soon", limit=120) is None
    assert retry_after_seconds(None, limit=120) is None


def test_a_killed_foreground_crawl_is_marked_abandoned_once_silent():
    from datetime import timedelta

    from django.utils import timezone

    from crawling.services import crawl_runs_mark_abandoned

    old = timezone.now() - timedelta(hours=1)
    killed = CrawlRun.objects.create(status="running", heartbeat_at=old)
    queued_job = CrawlRun.objects.create(status="running", heartbeat_at=old, job_id="rq-job")
    alive = CrawlRun.objects.create(status="running", heartbeat_at=timezone.now())

    assert crawl_runs_mark_abandoned() == 1

    killed.refresh_from_db()
    assert killed.status == "failed" and killed.error.startswith("Abandoned")
    assert CrawlRun.objects.get(pk=queued_job.pk).status == CrawlRun.objects.get(pk=alive.pk).status == "running"


@pytest.fixture
def small_site():
    with ReviewSite(build_site(subcategories=2, companies_per_sub=2, use_shared_data=False)) as site:
        yield site


def test_a_missing_browser_says_what_to_install_or_set(small_site, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.SELENIUM_REMOTE_URL = ""
    settings.CHROMEDRIVER_PATH = str(tmp_path / "no-chromedriver")
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError) as failed:
        call_command("crawl", "--start-url", small_site.url, stdout=out, stderr=err)

    message = str(failed.value)
    assert "apt-get install chromium chromium-driver" in message
    assert all(name in message for name in ("CHROMIUM_BINARY", "CHROMEDRIVER_PATH", "SELENIUM_REMOTE_URL"))
    assert "Unable to obtain driver" not in message + out.getvalue() + err.getvalue()
    assert "Traceback" not in out.getvalue() + err.getvalue()
    run = CrawlRun.objects.get()
    assert run.status == "failed" and "apt-get install chromium" in run.error
    log = (tmp_path / "log" / f"crawl-{run.pk}.log").read_text()
    assert "Traceback" in log and "BrowserUnavailable" in log  # the details are kept, in the crawler's log
    assert f"crawler log: {tmp_path / 'log' / f'crawl-{run.pk}.log'}" in out.getvalue()


@pytest.mark.slow
def test_the_console_shows_progress_and_a_summary_and_the_crawler_log_goes_to_a_file(subprocess_env, tmp_path):
    site = add_faults(build_site(subcategories=2, companies_per_sub=2, use_shared_data=False))
    companies = [*(domain for domain in site.companies if domain.startswith("www.company-")), "always-500.example"]
    with ReviewSite(site) as served:
        args = ["--start-url", served.url, *(f"--company={domain}" for domain in companies)]
        env = {**subprocess_env, "STARLING_VAR_DIR": str(tmp_path)}
        first = run_crawl(env, *args)
        again = run_crawl(env, *args)

    counted = re.search(r"read (\d+) · new (\d+) · updated 0 · unchanged 0 · skipped (\d+)", first.stdout)
    assert counted, first.stdout
    read, new, skipped = map(int, counted.groups())
    assert new == ScrapedReview.objects.count() > 0 and skipped > 0 and read == new + skipped
    assert f"read {read} · new 0 · updated 0 · unchanged {new} · skipped {skipped}" in again.stdout
    assert "reviews: reading the review pages of 5 companies" in again.stderr
    assert "5/5 companies" in again.stderr  # the progress bar reached the end
    console = first.stdout + first.stderr + again.stdout + again.stderr
    for crawler_line in ("Scrapy", "Versions", "DEBUG", "INFO", "WARNING", "Gave up retrying", "Traceback"):
        assert crawler_line not in console, crawler_line
    assert "http_500" in again.stdout and "always-500.example" in again.stdout  # grouped errors, with their URLs
    run = CrawlRun.objects.order_by("-pk").first()
    log_path = tmp_path / "log" / f"crawl-{run.pk}.log"
    assert f"crawler log: {log_path}" in again.stdout
    log = log_path.read_text()
    assert "Scrapy" in log and "Versions" in log and "Gave up retrying" in log
    assert Company.objects.count() == 4 and not Company.objects.filter(is_active=True).exists()
