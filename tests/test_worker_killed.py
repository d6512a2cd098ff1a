"""A worker killed (SIGKILL) mid-crawl or mid-training: its work dies with it, the run fails with the reason, and a
retry finishes the job."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import psutil
import pytest

from core.jobs import job_runs_reap
from crawling.models import CrawlRun
from crawling.services import crawl_run_retry, crawl_run_start
from ml.models import ModelVersion, TrainingRun
from ml.services import training_run_retry, training_run_start
from reviews.models import ScrapedReview
from tests.conftest import worker_burst, worker_start
from tests.factories import labelled_reviews_create
from tests.review_site.checks import FAST_LIMITS, normalised, stored_reviews
from tests.review_site.content import build_site
from tests.review_site.server import ReviewSite

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def kill_when(worker: subprocess.Popen, ready, timeout: float = 90) -> None:
    """SIGKILL the worker alone once `ready()`; its work-horse (and what that started) must die with it."""
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert worker.poll() is None, "the worker exited on its own"
            assert time.monotonic() < deadline, "the job never got far enough to be killed"
            time.sleep(0.05)
    except BaseException:
        os.killpg(worker.pid, signal.SIGKILL)  # the test failed: leave nothing running
        worker.wait(timeout=10)
        raise
    descendants = psutil.Process(worker.pid).children(recursive=True)
    commands = {process.pid: " ".join(process.cmdline()) for process in descendants}
    assert descendants, "the worker had no work-horse"
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    # The work-horse goes at once; a crawl process stops gracefully on SIGTERM (a second or two, more under load).
    alive = still_running(descendants, timeout=30)
    for orphan in alive:
        orphan.kill()
    assert not alive, f"processes outlived their worker: {[commands[process.pid] for process in alive]}"


def still_running(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """The processes still running (a zombie has ended) once all have ended or `timeout` has passed."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for process in processes:
            try:
                if process.status() != psutil.STATUS_ZOMBIE:
                    alive.append(process)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def reaped(run) -> None:
    """What a surviving worker's timer (or the next worker to start) does: the dead worker's run is failed."""
    run.refresh_from_db()
    assert run.status == run.Status.RUNNING  # nobody has looked yet
    assert job_runs_reap() == 1
    run.refresh_from_db()
    assert run.status == run.Status.FAILED
    assert run.error.startswith("Abandoned: The worker running it")


def burst_worker(env: dict[str, str], queue: str) -> None:
    done = worker_burst(env, queue, timeout=150)
    assert done.returncode == 0


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
        reaped(run)

        retry = crawl_run_retry(run=run)
        burst_worker(env, "crawl")

    retry.refresh_from_db()
    assert retry.status == CrawlRun.Status.SUCCEEDED, retry.error
    assert stored_reviews() == normalised(site.served_reviews())
    assert ScrapedReview.objects.count() == total


def test_a_training_run_whose_worker_dies_is_failed_and_its_retry_registers_a_model(subprocess_env):
    labelled_reviews_create(30)
    run = training_run_start(params={"architecture": "charcnn", "epochs": 3, "patience": 3, "seed": 1})
    kill_when(worker_start(subprocess_env, "training"), lambda: TrainingRun.objects.get(pk=run.pk).history)
    reaped(run)
    assert not ModelVersion.objects.exists(), "the killed run registered a model"

    retry = training_run_retry(run=run)
    assert retry.pk != run.pk and retry.params == run.params
    burst_worker(subprocess_env, "training")

    retry.refresh_from_db()
    assert retry.status == TrainingRun.Status.SUCCEEDED, retry.error
    assert retry.model_version is not None
    assert ModelVersion.objects.count() == 1
