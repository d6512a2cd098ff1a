"""RQ job functions for the "training" queue: thin wrappers around ml.services."""

from __future__ import annotations

from core.jobs import execute_run


def training_job(run_label: str, run_id: int) -> str:
    """Run one queued TrainingRun (enqueued by ml.services.training_run_start)."""
    from ml.services import training_run_execute

    return execute_run(run_label, run_id, training_run_execute)


def audit_job(run_label: str, run_id: int) -> str:
    """Run one queued label audit (enqueued by ml.audit.audit_run_start)."""
    from ml.audit import audit_run_execute

    return execute_run(run_label, run_id, audit_run_execute)
