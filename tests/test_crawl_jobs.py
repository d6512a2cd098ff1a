"""Crawls started as background jobs: a real RQ worker runs them in child processes and fans out."""

from __future__ import annotations

import subprocess

import pytest

from crawling.models import CrawlRun
from crawling.services import crawl_run_start
from reviews.models import ScrapedReview
from tests.conftest import worker_burst
from tests.review_site.checks import FAST_LIMITS, normalised, stored_reviews
from tests.review_site.content import build_site
from tests.review_site.server import ReviewSite

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def _burst_worker(env: dict[str, str]) -> subprocess.CompletedProcess:
    return worker_burst({**env, **FAST_LIMITS, "CRAWL_FANOUT_BATCH": "2"}, "crawl", timeout=150)


def test_a_queued_crawl_runs_on_a_worker_and_fans_out_in_batches(subprocess_env):
    site = build_site(subcategories=1, companies_per_sub=3, pages=2, reviews_per_page=4, use_shared_data=False)
    with ReviewSite(site) as served:
        run = crawl_run_start(params={"start_url": served.url, "companies": list(site.companies)})
        assert CrawlRun.objects.get(pk=run.pk).status == CrawlRun.Status.QUEUED and run.job_id

        worker = _burst_worker(subprocess_env)

    assert worker.returncode == 0, worker.stderr[-3000:]
    run.refresh_from_db()
    assert run.status == CrawlRun.Status.SUCCEEDED, run.error
    assert run.companies_total == 3 and "fanned out" in run.progress_message
    batches = list(run.batches.order_by("pk"))
    assert [len(b.params["companies"]) for b in batches] == [2, 1]
    assert all(b.status == CrawlRun.Status.SUCCEEDED for b in batches), [b.error for b in batches]
    assert sum(b.reviews_new for b in batches) == ScrapedReview.objects.count() == len(site.served_reviews())
    assert all(b.pages_fetched == 2 * len(b.params["companies"]) and b.progress == 1.0 for b in batches)
    assert stored_reviews() == normalised(site.served_reviews())


def test_a_crawl_whose_site_is_down_fails_with_the_reason(subprocess_env):
    run = crawl_run_start(params={"start_url": "http://127.0.0.1:9", "max_companies": 1})

    worker = _burst_worker(subprocess_env)

    assert worker.returncode == 0
    run.refresh_from_db()
    assert run.status == CrawlRun.Status.FAILED
    assert "Could not read the category list" in run.error
    assert run.errors_by_kind == {"connection": 1}
