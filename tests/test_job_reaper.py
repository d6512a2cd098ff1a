"""A job whose worker is killed does not stay "running": its work-horse dies too and the run is marked failed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import psutil
import pytest
from django.utils import timezone

from core.jobs import enqueue_run, job_runs_reap
from crawling.models import CrawlRun
from ml.models import AuditRun
from reviews.labels import stars_to_label
from reviews.models import ScrapedReview
from tests.conftest import ROOT, worker_burst, worker_start
from tests.factories import company_create, review_texts
from tests.jobs_for_tests import horse_pid

pytestmark = [pytest.mark.redis, pytest.mark.slow]

SHORT_HEARTBEAT = 3  # seconds: beats every second, a lapse is noticed within four


def wait_until(condition, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.1)
    return result


def status_of(run: CrawlRun) -> str:
    run.refresh_from_db()
    return run.status


def running(pid: int) -> bool:
    """True while the process exists and is not a zombie (ended, not yet collected)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class Workers:
    """RQ workers a test starts, and the work-horses it saw; whatever is left of them is killed afterwards."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []
        self.horses: list[int] = []

    def __call__(self, env: dict[str, str], queue: str) -> subprocess.Popen:
        self.started.append(worker_start(env, queue))
        return self.started[-1]

    def clean_up(self) -> None:
        for worker in self.started:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)
        for horse in self.horses:
            if running(horse):  # an orphan: do not leave it working for two minutes
                os.kill(horse, signal.SIGKILL)


@pytest.fixture
def workers():
    """`workers(env, queue)` starts an RQ worker; nothing started is left running after the test."""
    started = Workers()
    yield started
    started.clean_up()


@pytest.fixture
def short_heartbeat(subprocess_env, settings) -> dict[str, str]:
    """Workers (and this test's own reaper calls) that give up on a run after a 3 s heartbeat lapse."""
    settings.JOB_HEARTBEAT_TIMEOUT_SECONDS = SHORT_HEARTBEAT
    return {**subprocess_env, "JOB_HEARTBEAT_TIMEOUT_SECONDS": str(SHORT_HEARTBEAT)}


def sleepy_run_started(workers: Workers, env: dict[str, str]) -> tuple[CrawlRun, subprocess.Popen, int]:
    """A two-minute job running on a fresh worker: the run, the worker and its work-horse's pid."""
    run = CrawlRun.objects.create(params={"note": "reaper test"})
    enqueue_run(run, "tests.jobs_for_tests.sleepy_job", queue="default")
    worker = workers(env, "default")
    horse = wait_until(lambda: horse_pid(run), "the job starting")
    workers.horses.append(horse)
    return run, worker, horse


def killed(worker: subprocess.Popen) -> None:
    """SIGKILL of the worker process alone (not its group): what happens to its work-horse is up to the worker."""
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


def test_a_long_job_keeps_beating_its_heartbeat_and_is_never_reaped(workers, short_heartbeat):
    run, _worker, _horse = sleepy_run_started(workers, short_heartbeat)
    # The job reports nothing after it starts, yet its heartbeat keeps moving past the timeout.
    wait_until(
        lambda: (
            status_of(run) == "running" and run.heartbeat_at - run.started_at > timedelta(seconds=SHORT_HEARTBEAT + 1)
        ),
        "a heartbeat beyond the timeout",
    )
    assert job_runs_reap() == 0
    assert status_of(run) == CrawlRun.Status.RUNNING


def test_a_killed_workers_work_horse_dies_with_it(workers, short_heartbeat):
    _run, worker, horse = sleepy_run_started(workers, short_heartbeat)
    killed(worker)
    wait_until(lambda: not running(horse), "the work-horse ending with its worker", timeout=5)


def test_a_surviving_worker_fails_the_abandoned_run_on_its_own_timer(workers, short_heartbeat):
    survivor = workers(short_heartbeat, "crawl")  # idle: nothing is queued there
    run, worker, _horse = sleepy_run_started(workers, short_heartbeat)
    killed(worker)
    wait_until(lambda: status_of(run) == CrawlRun.Status.FAILED, "the run being marked failed")
    assert run.error.startswith("Abandoned: ")
    assert run.finished_at is not None
    assert survivor.poll() is None


def test_a_worker_starting_up_fails_the_run_its_dead_predecessor_left(workers, subprocess_env):
    run, worker, _horse = sleepy_run_started(workers, subprocess_env)  # the default heartbeat timeout (60 s)
    killed(worker)
    assert status_of(run) == CrawlRun.Status.RUNNING  # nobody has noticed yet
    workers(subprocess_env, "default")
    wait_until(lambda: status_of(run) == CrawlRun.Status.FAILED, "the run being marked failed")
    assert run.error.startswith("Abandoned: The worker running it")
    assert run.error.endswith("is gone (killed?).")


def test_a_run_whose_heartbeat_lapsed_is_failed_with_the_reason(redis_url, transactional_db, settings):
    settings.JOB_HEARTBEAT_TIMEOUT_SECONDS = SHORT_HEARTBEAT
    silent = CrawlRun.objects.create(
        status="running", job_id="job-on-a-lost-machine", heartbeat_at=timezone.now() - timedelta(seconds=10)
    )
    foreground = CrawlRun.objects.create(status="running", heartbeat_at=timezone.now() - timedelta(seconds=10))
    beating = CrawlRun.objects.create(status="running", heartbeat_at=timezone.now())

    assert job_runs_reap() == 2
    for run in (silent, foreground):  # a command's own run beats a heartbeat too (`run_in_foreground`)
        run.refresh_from_db()
        assert run.status == CrawlRun.Status.FAILED
        assert run.error == "Abandoned: it stopped beating its heartbeat for more than 3 s."
    assert status_of(beating) == CrawlRun.Status.RUNNING


def audit_command_started(env: dict[str, str]) -> tuple[subprocess.Popen, AuditRun]:
    """`manage.py audit_labels` in its own process, slow enough to be caught running; the process and its run."""
    company = company_create(name="Audit Shop")
    for stars in (1, 3, 5):
        for n, text in enumerate(review_texts(stars, 60, seed=stars)):
            ScrapedReview.objects.create(
                company=company, source="import", source_id=f"{stars}-{n}", label=stars_to_label(stars), text=text
            )
    command = [sys.executable, "manage.py", "audit_labels", "--folds", "5", "--seeds", "3", "--epochs", "40"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run = wait_until(lambda: AuditRun.objects.filter(status="running").first(), "the audit starting", timeout=60)
    return process, run


def test_an_interrupted_command_fails_its_run_at_once(short_heartbeat):
    process, run = audit_command_started(short_heartbeat)
    process.send_signal(signal.SIGINT)  # Ctrl-C
    assert process.wait(timeout=60) != 0
    run.refresh_from_db()
    assert (run.status, run.error) == (AuditRun.Status.FAILED, "Interrupted before it finished.")


def test_a_killed_command_leaves_a_run_the_reaper_fails_and_a_live_one_it_leaves(short_heartbeat):
    process, run = audit_command_started(short_heartbeat)
    try:
        time.sleep(SHORT_HEARTBEAT + 1)  # longer than the timeout: only the heartbeat thread keeps it alive
        assert process.poll() is None, "the audit finished before the test could look at it"
        assert job_runs_reap() == 0
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        assert status_of(run) == AuditRun.Status.RUNNING  # nothing could record it
        wait_until(lambda: job_runs_reap() == 1, "the reaper failing the run", timeout=SHORT_HEARTBEAT + 5)
    finally:
        if process.poll() is None:
            process.kill()
    run.refresh_from_db()
    assert run.error == f"Abandoned: it stopped beating its heartbeat for more than {SHORT_HEARTBEAT} s."


def test_finished_runs_are_left_alone(subprocess_env):
    run = CrawlRun.objects.create(params={})
    enqueue_run(run, "tests.jobs_for_tests.quick_job", queue="default")
    worker_burst(subprocess_env, "default", timeout=120)
    run.refresh_from_db()
    assert run.status == CrawlRun.Status.SUCCEEDED
    assert job_runs_reap(as_of=time.time() + 600) == 0
    run.refresh_from_db()
    assert run.status == CrawlRun.Status.SUCCEEDED
