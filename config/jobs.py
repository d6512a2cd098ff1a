"""Background work: the one way a long-running job (a crawl, a training run) is queued and run.

A job is described by a row (a subclass of `JobRun`) that the user watches. `enqueue_run` puts the
job on an RQ queue and records the job id on the row; `execute_run` is what the worker calls: it
re-fetches the row by id, moves it queued → running exactly once, runs the work, and writes the
outcome (succeeded / failed with the reason) back onto the row.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

from django.apps import apps
from django.db import close_old_connections, connection, models, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)


class JobQueueUnavailable(Exception):
    """The job queue (Redis) could not be reached, so the work was not started."""


class JobRun(models.Model):
    """Common fields of a row that tracks one background job."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    params = models.JSONField(default=dict, blank=True)
    progress = models.FloatField(default=0.0, help_text="0 to 1.")
    progress_message = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    job_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    class Meta:
        abstract = True

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


def enqueue_run(run: JobRun, func: str, *, queue: str, timeout: int) -> JobRun:
    """Queue `func(run_label, run_id)` on RQ and record the job id on the run.

    Inside a transaction the job is pushed when it commits, so a worker never sees a job before its
    row. Redis is checked first, so an unreachable queue is reported at once (JobQueueUnavailable)
    and the run is marked failed with the reason.
    """
    import django_rq
    from redis.exceptions import RedisError

    model = type(run)
    rq_queue = django_rq.get_queue(queue, commit_mode="auto")

    def unavailable(exc: Exception) -> JobQueueUnavailable:
        message = f"The job queue (Redis) is unavailable, so the job was not started: {exc}"
        model.objects.filter(pk=run.pk).update(status=JobRun.Status.FAILED, error=message, finished_at=timezone.now())
        run.status, run.error = JobRun.Status.FAILED, message
        return JobQueueUnavailable(message)

    def push() -> None:
        try:
            job = rq_queue.enqueue(
                func, run._meta.label, run.pk, job_timeout=timeout, result_ttl=86400, failure_ttl=7 * 86400
            )
        except RedisError as exc:
            raise unavailable(exc) from exc
        model.objects.filter(pk=run.pk).update(job_id=job.id)
        run.job_id = job.id

    try:
        rq_queue.connection.ping()
    except RedisError as exc:
        raise unavailable(exc) from exc
    if connection.in_atomic_block:
        transaction.on_commit(lambda: _push_recording_failure(push))
    else:
        push()
    return run


def _push_recording_failure(push: Callable[[], None]) -> None:
    """After commit nobody can catch the error: it is already written on the run."""
    try:
        push()
    except JobQueueUnavailable:
        logger.exception("Could not queue a job after commit")


def execute_run(run_label: str, run_id: int, work: Callable[[JobRun], None]) -> str:
    """Run `work(run)` for a queued run, once, recording the outcome on the run; returns the final status."""
    model = apps.get_model(run_label)
    close_old_connections()
    try:
        now = timezone.now()
        claimed = model.objects.filter(pk=run_id, status=JobRun.Status.QUEUED).update(
            status=JobRun.Status.RUNNING, started_at=now, heartbeat_at=now, error=""
        )
        if not claimed:
            logger.warning("%s %s is not queued; skipping.", run_label, run_id)
            return model.objects.filter(pk=run_id).values_list("status", flat=True).first() or "missing"
        run = model.objects.get(pk=run_id)
        try:
            work(run)
        except Exception as exc:
            logger.exception("%s %s failed", run_label, run_id)
            model.objects.filter(pk=run_id).update(
                status=JobRun.Status.FAILED,
                error=f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc(limit=20)}",
                finished_at=timezone.now(),
            )
            return JobRun.Status.FAILED
        model.objects.filter(pk=run_id, status=JobRun.Status.RUNNING).update(
            status=JobRun.Status.SUCCEEDED, progress=1.0, finished_at=timezone.now()
        )
        return model.objects.filter(pk=run_id).values_list("status", flat=True).first()
    finally:
        close_old_connections()


def _job_run_models() -> list[type[JobRun]]:
    return [model for model in apps.get_models() if issubclass(model, JobRun)]


def _dead_job_reason(job_id: str, connection) -> str | None:
    """Why the RQ job behind a running run can no longer finish, or None while it may still run."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return "Its job is no longer in the queue (Redis was emptied or the job expired)."
    status = job.get_status(refresh=True)
    if status not in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
        return None
    result = job.latest_result()
    detail = (result.exc_string or "").strip().splitlines()[-1:] if result else []
    return f"The worker running it stopped before it finished (job {status}{': ' + detail[0] if detail else ''})."


def job_runs_reap(*, as_of: float | None = None) -> int:
    """Mark as failed every running run whose job died (its worker was killed, or the job was lost).

    RQ notices a dead worker when its job's heartbeat lapses (about 90 s) and moves the job to the
    failed registry; this then writes the reason on the run so staff see it and can retry. Runs with
    no job (started in the foreground by a command) are left to their own process. `as_of` (a Unix
    time) lets a check look ahead, as if that moment had come.
    """
    import django_rq
    from redis.exceptions import RedisError
    from rq.registry import StartedJobRegistry

    reaped = 0
    try:
        queues = [django_rq.get_queue(name) for name in ("default", "crawl", "training")]
        for queue in queues:
            StartedJobRegistry(queue=queue).cleanup(timestamp=as_of)
        connection = queues[0].connection
        for model in _job_run_models():
            for run_id, job_id in (
                model.objects.filter(status=JobRun.Status.RUNNING).exclude(job_id="").values_list("pk", "job_id")
            ):
                reason = _dead_job_reason(job_id, connection)
                if reason:
                    reaped += model.objects.filter(pk=run_id, status=JobRun.Status.RUNNING).update(
                        status=JobRun.Status.FAILED, error=f"Abandoned: {reason}", finished_at=timezone.now()
                    )
    except RedisError as exc:
        logger.warning("Cannot check running jobs, Redis is unavailable: %s", exc)
    return reaped
