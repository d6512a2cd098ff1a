"""A worker killed (SIGKILL) mid-crawl or mid-training: the run fails with the reason, and a retry finishes the job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from core.jobs import job_runs_reap
from crawling.models import CrawlRun
from crawling.services import crawl_run_retry, crawl_run_start
from ml.models import TrainingRun
from ml.services import training_run_retry, training_run_start
from reviews.models import ScrapedReview
from tests.conftest import ROOT, worker_start
from tests.factories import labelled_reviews_create
from tests.review_site.checks import FAST_LIMITS, normalised, stored_reviews
from tests.review_site.content import build_site
from tests.review_site.server import ReviewSite

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def kill_when(worker: subprocess.Popen, ready, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert worker.poll() is None, "the worker exited on its own"
            assert time.monotonic() < deadline, "the job never got far enough to be killed"
            time.sleep(0.05)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)


def reap_after_heartbeats_lapse(run) -> None:
    """What the surviving workers' minute check does once RQ's 90 s job heartbeat has lapsed."""
    run.refresh_from_db()
    assert run.status == run.Status.RUNNING  # nobody can know yet
    assert job_runs_reap(as_of=time.time() + 120) == 1
    run.refresh_from_db()
    assert run.status == run.Status.FAILED
    assert run.error.startswith("Abandoned: The worker running it stopped before it finished")


def test_a_crawl_whose_worker_dies_is_failed_and_its_retry_stores_every_review_once(subprocess_env):
    site = build_site(subcategories=2, companies_per_sub=3, pages=4, reviews_per_page=5, use_shared_data=False)
    site.latency = 0.05  # slow enough to be killed half-way
    env = {**subprocess_env, **FAST_LIMITS, "CRAWL_BATCH_SIZE": "5"}
    with ReviewSite(site) as served:
        params = {"start_url": served.url, "companies": list(site.companies), "concurrency": 1}
        run = crawl_run_start(params=params)
        total = len(site.served_reviews())
        kill_when(worker_start(env, "crawl"), lambda: ScrapedReview.objects.count() >= 10)
        partial = ScrapedReview.objects.count()
        assert 0 < partial < total, "the crawl was not killed half-way"
        reap_after_heartbeats_lapse(run)

        retry = crawl_run_retry(run=run)
        done = subprocess.run(
            [sys.executable, "manage.py", "rqworker", "crawl", "--burst"], cwd=ROOT, env=env, timeout=150
        )
        assert done.returncode == 0

    retry.refresh_from_db()
    assert retry.status == CrawlRun.Status.SUCCEEDED, retry.error
    assert stored_reviews() == normalised(site.served_reviews())
    assert ScrapedReview.objects.count() == total


def test_a_training_run_whose_worker_dies_is_failed_and_can_be_retried(subprocess_env):
    labelled_reviews_create(30)
    run = training_run_start(params={"architecture": "charcnn", "epochs": 500, "patience": 100, "seed": 1})
    kill_when(worker_start(subprocess_env, "training"), lambda: TrainingRun.objects.get(pk=run.pk).history)
    reap_after_heartbeats_lapse(run)

    retry = training_run_retry(run=run)
    assert retry.pk != run.pk
    assert retry.status == TrainingRun.Status.QUEUED and retry.job_id
    assert retry.params == run.params
