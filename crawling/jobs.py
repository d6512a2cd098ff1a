"""RQ job for crawls: each crawl runs in a child process, because Scrapy's reactor cannot restart."""

from __future__ import annotations

import subprocess
import sys

from django.conf import settings

from core.jobs import execute_run
from core.processes import die_with_parent
from crawling.models import CrawlRun


def crawl_run_job(run_label: str, run_id: int) -> str:
    """Execute a queued crawl run in a fresh `manage.py crawl --run-id` process; returns its final status."""
    return execute_run(run_label, run_id, _crawl_in_child_process)


def _crawl_in_child_process(run: CrawlRun) -> None:
    """Run the crawl in a child process (fanning out large crawls) and fail if the child fails."""
    command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "crawl", "--run-id", str(run.pk), "--fan-out"]
    # die_with_parent: a worker killed mid-crawl takes its crawl process with it (no orphan crawling on).
    completed = subprocess.run(
        command, cwd=settings.BASE_DIR, capture_output=True, text=True, check=False, preexec_fn=die_with_parent
    )
    if completed.returncode != 0:
        tail = (completed.stderr or completed.stdout or "")[-3000:]
        raise RuntimeError(f"The crawl process exited with status {completed.returncode}:\n{tail}")
