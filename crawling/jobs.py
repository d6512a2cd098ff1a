"""RQ job for crawls: each crawl runs in a child process, because Scrapy's reactor cannot restart."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from functools import partial

from django.conf import settings

from core.jobs import execute_run
from core.processes import die_with_parent
from crawling.models import CrawlRun
from crawling.services import CrawlFailed

logger = logging.getLogger(__name__)

STDERR_TAIL_LOGGED = 3000


def crawl_run_job(run_label: str, run_id: int) -> str:
    """Execute a queued crawl run in a fresh `manage.py crawl --run-id` process; returns its final status."""
    return execute_run(run_label, run_id, _crawl_in_child_process)


def _crawl_in_child_process(run: CrawlRun) -> None:
    """Run the crawl in a child process (fanning out large crawls) and fail with its reason if the child fails."""
    command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "crawl", "--run-id", str(run.pk), "--fan-out"]
    # A worker killed mid-crawl takes its crawl process with it at once: SIGKILL, not Scrapy's graceful
    # SIGTERM, which finishes the requests in flight and can run on for half a minute on a busy machine.
    # The run is failed and retried; its reviews are committed in whole batches, so nothing is half-written.
    completed = subprocess.run(
        command,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=partial(die_with_parent, parent_pid=os.getpid(), sig=signal.SIGKILL),
    )
    if completed.returncode != 0:
        output = completed.stderr or completed.stdout or ""
        logger.error(
            "Crawl #%s: its process exited with status %s:\n%s",
            run.pk,
            completed.returncode,
            output[-STDERR_TAIL_LOGGED:],
        )
        raise CrawlFailed(child_failure_reason(output, completed.returncode))


def child_failure_reason(output: str, returncode: int) -> str:
    """The one line a failed crawl process left for staff: its last non-blank output line (the error)."""
    if returncode < 0:
        return f"The crawl process was killed (signal {-returncode})."
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if not lines:
        return f"The crawl process exited with status {returncode} and no message."
    # `manage.py crawl --run-id` reports a failure as its last line: "CommandError: <reason>".
    return lines[-1].removeprefix("CommandError: ")
