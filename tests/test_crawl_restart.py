"""A crawl killed mid-run (SIGKILL) and run again ends with the same database as a clean crawl."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from reviews.models import ScrapedReview
from tests.conftest import ROOT
from tests.review_site.checks import FAST_LIMITS, crawl_command, normalised, run_crawl, stored_reviews
from tests.review_site.content import build_site
from tests.review_site.server import ReviewSite

pytestmark = pytest.mark.slow


def test_killed_crawl_rerun_stores_every_review_once(subprocess_env):
    site = build_site(subcategories=2, companies_per_sub=3, pages=4, reviews_per_page=5, use_shared_data=False)
    site.latency = 0.05  # slow enough to be killed half-way
    companies = [arg for domain in site.companies for arg in ("--company", domain)]
    env = {**subprocess_env, **FAST_LIMITS, "CRAWL_BATCH_SIZE": "5"}
    with ReviewSite(site) as served:
        args = ("--start-url", served.url, "--concurrency", "1", *companies)
        process = subprocess.Popen(
            crawl_command(*args), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        total = len(site.served_reviews())
        deadline = time.monotonic() + 60
        while ScrapedReview.objects.count() < 10 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        partial = ScrapedReview.objects.count()
        assert 0 < partial < total, "the crawl was not killed half-way"

        run_crawl(env, *args)

    assert stored_reviews() == normalised(site.served_reviews())
    assert ScrapedReview.objects.count() == total
