"""Job functions the tests enqueue on a real worker."""

from __future__ import annotations

import time

from core.jobs import execute_run


def sleepy_job(run_label: str, run_id: int) -> str:
    """Claims the run, then works for two minutes (long enough to be killed mid-way)."""
    return execute_run(run_label, run_id, lambda run: time.sleep(120))


def quick_job(run_label: str, run_id: int) -> str:
    """Claims the run and finishes at once."""
    return execute_run(run_label, run_id, lambda run: None)
