"""Background work: the one lifecycle of a long-running job (a crawl, a training run) and its row.

A job is described by a row (a subclass of `JobRun`) that staff watch. Its status only moves along
queued → running → succeeded | failed, and only through the methods here: `enqueue_run` puts the
job on an RQ queue, `execute_run` (what the worker calls) claims the row exactly once, runs the
work and records the outcome, `job_runs_reap` fails runs whose worker died, and `job_run_retry`
starts a new run with the same options once the old one has finished. A failure writes one line
(the reason) on the row; the traceback goes to the log.

While a worker runs a job, a thread beats the run's `heartbeat_at` every `heartbeat_interval()`
seconds, whatever the work is doing (a long training epoch, a crawl in a child process). A run whose
heartbeat lapsed for `JOB_HEARTBEAT_TIMEOUT_SECONDS` is abandoned: every worker checks for those on a
timer of its own (`core.worker`), so a dead worker's run is failed within that window plus one beat.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Self, TypeVar

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, models, transaction
from django.utils import timezone

from core.errors import ServiceUnavailable, StarlingError
from core.processes import pid_alive, pid_namespace
from core.queues import QUEUES

logger = logging.getLogger(__name__)

REASON_MAX_CHARS = 2000

# Where a worker notes, beside RQ's own registration, which pids it can see (`core.processes.pid_namespace`).
WORKER_PID_NAMESPACE_FIELD = "starling_pid_namespace"


class JobQueueUnavailable(ServiceUnavailable):
    """The job queue (Redis) could not be reached, so the work was not started."""


class JobRunUnfinished(StarlingError):
    """A run cannot be retried while it is still queued or running."""

    code = "run_unfinished"


class JobRun(models.Model):
    """Common fields and the lifecycle of a row that tracks one background job."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

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

    FINISHED = (Status.SUCCEEDED, Status.FAILED)

    class Meta:
        abstract = True

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @classmethod
    def claim(cls, run_id: int) -> Self | None:
        """Move a queued run to running and return it; None when it is not queued (so it runs once)."""
        now = timezone.now()
        claimed = cls.objects.filter(pk=run_id, status=cls.Status.QUEUED).update(
            status=cls.Status.RUNNING, started_at=now, heartbeat_at=now, error=""
        )
        return cls.objects.get(pk=run_id) if claimed else None

    @classmethod
    def start_here(cls, **fields: object) -> Self:
        """Record a run that this process executes itself (a command in the foreground), already running."""
        now = timezone.now()
        return cls.objects.create(status=cls.Status.RUNNING, started_at=now, heartbeat_at=now, **fields)

    def record_progress(self, progress: float | None = None, message: str | None = None, **fields: object) -> None:
        """Write how far the run is (0..1), what it is doing and any of its own fields; beats the heartbeat."""
        update: dict[str, object] = {"heartbeat_at": timezone.now(), **fields}
        if progress is not None:
            update["progress"] = round(max(0.0, min(1.0, progress)), 4)
        if message is not None:
            update["progress_message"] = message[:255]
        type(self).objects.filter(pk=self.pk).update(**update)
        for name, value in update.items():
            setattr(self, name, value)

    def beat(self) -> bool:
        """Note that the run is still alive (only while it is running); False once it no longer is."""
        return bool(
            type(self).objects.filter(pk=self.pk, status=self.Status.RUNNING).update(heartbeat_at=timezone.now())
        )

    def mark_succeeded(self) -> bool:
        """A running run finished its work; False when it was no longer running (reaped meanwhile)."""
        now = timezone.now()
        done = (
            type(self)
            .objects.filter(pk=self.pk, status=self.Status.RUNNING)
            .update(status=self.Status.SUCCEEDED, progress=1.0, finished_at=now)
        )
        if done:
            self.status, self.progress, self.finished_at = self.Status.SUCCEEDED, 1.0, now
        return bool(done)

    def mark_failed(self, reason: str, *, only_if: tuple[str, ...] | None = None) -> bool:
        """Record the run as failed with a one-line reason staff can read; `only_if`: from these statuses only."""
        reason = " ".join(reason.split())[:REASON_MAX_CHARS] or "Failed."
        rows = type(self).objects.filter(pk=self.pk)
        if only_if is not None:
            rows = rows.filter(status__in=only_if)
        now = timezone.now()
        failed = rows.update(status=self.Status.FAILED, error=reason, finished_at=now)
        if failed:
            self.status, self.error, self.finished_at = self.Status.FAILED, reason, now
        return bool(failed)


Run = TypeVar("Run", bound=JobRun)


def failure_reason(exc: BaseException) -> str:
    """The one line a failed run shows: the error's own message, named by its type unless it is ours."""
    message = str(exc).strip() or type(exc).__name__
    return message if isinstance(exc, StarlingError) else f"{type(exc).__name__}: {message}"


def enqueue_run(run: Run, func: str, *, queue: str) -> Run:
    """Queue `func(run_label, run_id)` on a registered RQ queue and record the job id on the run.

    Inside a transaction the job is pushed when it commits, so a worker never sees a job before its
    row. Redis is checked first, so an unreachable queue is reported at once (JobQueueUnavailable)
    and the run is marked failed with the reason.
    """
    import django_rq
    from redis.exceptions import RedisError

    rq_queue = django_rq.get_queue(queue, commit_mode="auto")

    def unavailable(exc: Exception) -> JobQueueUnavailable:
        message = f"The job queue (Redis) is unavailable, so the job was not started: {exc}"
        run.mark_failed(message)
        return JobQueueUnavailable(message)

    def push() -> None:
        try:
            job = rq_queue.enqueue(
                func, run._meta.label, run.pk, job_timeout=QUEUES[queue], result_ttl=86400, failure_ttl=7 * 86400
            )
        except RedisError as exc:
            raise unavailable(exc) from exc
        type(run).objects.filter(pk=run.pk).update(job_id=job.id)
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


def execute_run(run_label: str, run_id: int, work: Callable[[JobRun], object]) -> str:
    """Run `work(run)` for a queued run, once, recording the outcome on the run; returns the final status."""
    model: type[JobRun] = apps.get_model(run_label)
    close_old_connections()
    try:
        run = model.claim(run_id)
        if run is None:
            logger.warning("%s %s is not queued; skipping.", run_label, run_id)
            return model.objects.filter(pk=run_id).values_list("status", flat=True).first() or "missing"
        with heartbeat(run):
            return run_work(run, work)
    finally:
        close_old_connections()


def heartbeat_interval() -> float:
    """Seconds between two beats of a running job's heartbeat (and between two checks for abandoned runs)."""
    return max(1.0, settings.JOB_HEARTBEAT_TIMEOUT_SECONDS / 6)


@contextlib.contextmanager
def heartbeat(run: JobRun) -> Iterator[None]:
    """Beat `run`'s heartbeat from a thread of its own while the block runs, however long a step of it takes."""
    stopped = threading.Event()

    def beat() -> None:
        try:
            while not stopped.wait(heartbeat_interval()):
                try:
                    if not run.beat():
                        return  # finished or reaped: nothing left to keep alive
                except DatabaseError as exc:  # a locked or unreachable database: try again at the next beat
                    logger.warning("Could not beat the heartbeat of %s %s: %s", run._meta.label, run.pk, exc)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"heartbeat-{run._meta.label}-{run.pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join(timeout=5)


def run_work(run: JobRun, work: Callable[[JobRun], object]) -> str:
    """Run `work(run)` for a running run and record success or the failure's reason; returns the final status."""
    try:
        work(run)
    except Exception as exc:
        logger.exception("%s %s failed", run._meta.label, run.pk)
        run.mark_failed(failure_reason(exc))
        return JobRun.Status.FAILED
    run.mark_succeeded()
    return type(run).objects.filter(pk=run.pk).values_list("status", flat=True).first()


def run_in_foreground(run: JobRun, work: Callable[[JobRun], object]) -> str:
    """`run_work` for a run a command carries out in its own process (no queue); returns the final status.

    Its heartbeat beats as a queued run's does, so a process killed outright leaves a run that
    `job_runs_reap` fails once the heartbeat lapses; an interrupt (Ctrl-C) fails it at once, then goes on.
    """
    with heartbeat(run):
        try:
            return run_work(run, work)
        except BaseException:  # KeyboardInterrupt, SystemExit: run_work records every Exception itself
            run.mark_failed("Interrupted before it finished.", only_if=(JobRun.Status.RUNNING,))
            raise


def job_run_retry(run: Run, start: Callable[[], Run]) -> Run:
    """Start a new run through `start()` with a finished run's options; refused while `run` is unfinished."""
    run.refresh_from_db(fields=["status"])
    if not run.is_finished:
        noun = run._meta.verbose_name.capitalize()
        raise JobRunUnfinished(f"{noun} #{run.pk} is still {run.status}; retry it once it has finished.")
    return start()


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
    if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
        result = job.latest_result()
        detail = (result.exc_string or "").strip().splitlines()[-1:] if result else []
        suffix = f": {detail[0]}" if detail else ""
        return f"The worker running it stopped before it finished (job {JobStatus(status).value}{suffix})."
    if status == JobStatus.STARTED and job.worker_name and _worker_gone(job.worker_name, connection):
        return f"The worker running it ({job.worker_name}) is gone (killed?)."
    return None


def _worker_gone(name: str, connection) -> bool:
    """True when the RQ worker `name` is known to be dead: unregistered, or its process, one we can see, is gone."""
    from rq import Worker

    key = Worker.redis_worker_namespace_prefix + name
    if not connection.exists(key):
        return True  # its registration lapsed: nothing renews it any more
    pid, namespace = connection.hmget(key, "pid", WORKER_PID_NAMESPACE_FIELD)
    if not pid or not namespace or namespace.decode() != pid_namespace():
        return False  # another machine's or container's process: only its heartbeat can tell
    return not pid_alive(int(pid))


def _heartbeat_cutoff(as_of: float | None) -> datetime:
    now = timezone.now() if as_of is None else datetime.fromtimestamp(as_of, tz=UTC)
    return now - timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT_SECONDS)


def job_runs_reap(*, as_of: float | None = None) -> int:
    """Mark as failed every running run whose job can no longer finish; returns how many.

    A queued job's run is abandoned when its heartbeat lapsed for `JOB_HEARTBEAT_TIMEOUT_SECONDS`,
    when RQ failed or lost its job, or when the worker that took the job is gone (unregistered in
    Redis, or its process no longer exists where this process can see it: the same machine and pid
    namespace; that one needs no waiting). A run with no job (a command's, `run_in_foreground`) is
    abandoned when its heartbeat lapsed. `as_of` (a Unix time) lets a check look ahead, as if that
    moment had come.
    """
    import django_rq
    from redis.exceptions import RedisError
    from rq.registry import StartedJobRegistry

    cutoff = _heartbeat_cutoff(as_of)
    lapsed = f"Abandoned: it stopped beating its heartbeat for more than {settings.JOB_HEARTBEAT_TIMEOUT_SECONDS} s."
    reaped = 0
    for model in _job_run_models():
        for run in model.objects.filter(status=JobRun.Status.RUNNING, heartbeat_at__lt=cutoff):
            reaped += run.mark_failed(lapsed, only_if=(JobRun.Status.RUNNING,))
    try:
        queues = [django_rq.get_queue(name) for name in QUEUES]
        for queue in queues:
            StartedJobRegistry(queue=queue).cleanup(timestamp=as_of)
        redis = queues[0].connection
        for model in _job_run_models():
            for run in model.objects.filter(status=JobRun.Status.RUNNING).exclude(job_id="").only("pk", "job_id"):
                reason = _dead_job_reason(run.job_id, redis)
                if reason:
                    reaped += run.mark_failed(f"Abandoned: {reason}", only_if=(JobRun.Status.RUNNING,))
    except RedisError as exc:
        logger.warning("Cannot check running jobs, Redis is unavailable: %s", exc)
    return reaped


def job_runs_reap_silent(model: type[JobRun], *, stale_after: float) -> int:
    """Fail foreground runs (no job) of `model` whose heartbeat stopped for `stale_after` seconds (killed?)."""
    cutoff = timezone.now() - timedelta(seconds=stale_after)
    reaped = 0
    for run in model.objects.filter(status=JobRun.Status.RUNNING, job_id="", heartbeat_at__lt=cutoff).only("pk"):
        reaped += run.mark_failed(
            f"Abandoned: its process stopped reporting for more than {stale_after:g} s (killed?).",
            only_if=(JobRun.Status.RUNNING,),
        )
    return reaped
