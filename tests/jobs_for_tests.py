"""Job functions the tests enqueue on a real worker."""

from __future__ import annotations

import os
import time

from core.jobs import execute_run


def _work_for_two_minutes(run) -> None:
    # The work-horse says who it is, so a test can watch that process; then it works without reporting.
    run.record_progress(0.0, f"work-horse pid {os.getpid()}")
    time.sleep(120)


def sleepy_job(run_label: str, run_id: int) -> str:
    """Claims the run, notes its process id in the progress message, then works for two minutes without reporting."""
    return execute_run(run_label, run_id, _work_for_two_minutes)


def quick_job(run_label: str, run_id: int) -> str:
    """Claims the run and finishes at once."""
    return execute_run(run_label, run_id, lambda run: None)


def horse_pid(run) -> int | None:
    """The work-horse's process id a `sleepy_job` noted on its run, once it has."""
    run.refresh_from_db()
    message = run.progress_message
    return int(message.rsplit(" ", 1)[1]) if message.startswith("work-horse pid ") else None
