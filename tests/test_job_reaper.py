"""A job whose worker is killed does not stay "running": the run is marked failed with the reason."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from core.jobs import enqueue_run, job_runs_reap
from crawling.models import CrawlRun
from tests.conftest import ROOT, worker_start

pytestmark = pytest.mark.slow


def wait_for_status(run: CrawlRun, status: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status == status:
            return
        time.sleep(0.2)
    raise AssertionError(f"run stayed {run.status!r}, expected {status!r}")


def test_a_killed_worker_leaves_a_failed_run_with_the_reason(subprocess_env):
    run = CrawlRun.objects.create(params={"note": "reaper test"})
    enqueue_run(run, "tests.jobs_for_tests.sleepy_job", queue="default")
    worker = worker_start(subprocess_env, "default")
    try:
        wait_for_status(run, CrawlRun.Status.RUNNING)
        assert job_runs_reap() == 0, "a run whose worker is alive must not be reaped"

        os.killpg(worker.pid, signal.SIGKILL)  # the machine dies: worker and work horse at once
        worker.wait(timeout=10)
        run.refresh_from_db()
        assert run.status == CrawlRun.Status.RUNNING  # nobody has noticed yet

        # RQ gives up on a job whose heartbeat lapsed for 90 s; look two minutes ahead.
        assert job_runs_reap(as_of=time.time() + 120) == 1
        run.refresh_from_db()
        assert run.status == CrawlRun.Status.FAILED
        assert run.error.startswith("Abandoned: The worker running it stopped")
        assert run.finished_at is not None
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)


def test_finished_runs_are_left_alone(subprocess_env):
    run = CrawlRun.objects.create(params={})
    enqueue_run(run, "tests.jobs_for_tests.quick_job", queue="default")
    subprocess.run(
        [sys.executable, "manage.py", "rqworker", "default", "--burst"], cwd=ROOT, env=subprocess_env, timeout=120
    )
    run.refresh_from_db()
    assert run.status == CrawlRun.Status.SUCCEEDED
    assert job_runs_reap(as_of=time.time() + 600) == 0
    run.refresh_from_db()
    assert run.status == CrawlRun.Status.SUCCEEDED
