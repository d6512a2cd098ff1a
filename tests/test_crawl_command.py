"""`manage.py crawl` explains bad options and leaves nothing behind; the parameters are checked once."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from crawling.models import CrawlRun
from crawling.services import crawl_params_clean

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
