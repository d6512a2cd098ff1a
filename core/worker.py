"""Starling's RQ worker: RQ's own, whose work-horses die with it and which looks for abandoned runs on a timer."""

from __future__ import annotations

import logging
import os
import threading

from django.db import close_old_connections, connection
from rq import Worker

from core.jobs import WORKER_PID_NAMESPACE_FIELD, heartbeat_interval, job_runs_reap
from core.processes import forked_children_die_with_this_process, pid_namespace

logger = logging.getLogger(__name__)


class StarlingWorker(Worker):
    """An RQ worker that takes its work-horse (and scheduler) down with it and reaps abandoned runs.

    RQ forks a work-horse per job; killed outright, RQ's worker would leave it running as an orphan
    that nobody watches. Here every fork gets PR_SET_PDEATHSIG, so it ends with the worker. A thread
    of its own checks for abandoned runs (`core.jobs.job_runs_reap`) at start-up and then every
    `heartbeat_interval()` seconds, whether the worker is idle, waiting on Redis or running a job.
    """

    # RQ waits up to 60 s between tries to reach a Redis that went away; a restarted one is used within 5 s.
    max_connection_wait_time = 5.0

    def bootstrap(self, *args, **kwargs) -> None:
        forked_children_die_with_this_process()
        # Never fork (a work-horse, the scheduler) while the reaper thread is inside the database or Redis
        # client: the child would inherit a lock held by a thread that does not exist there.
        self._reaping = threading.Lock()
        os.register_at_fork(
            before=self._reaping.acquire,
            after_in_parent=self._reaping.release,
            after_in_child=self._reaping.release,
        )
        super().bootstrap(*args, **kwargs)
        # So that a worker that can see this one's pid fails its run at once if this process dies.
        self.connection.hset(self.key, WORKER_PID_NAMESPACE_FIELD, pid_namespace())
        self._reaper_stop = threading.Event()
        threading.Thread(target=self._reap_abandoned_runs, name="abandoned-run-reaper", daemon=True).start()

    def teardown(self) -> None:
        if not self.is_horse and hasattr(self, "_reaper_stop"):
            self._reaper_stop.set()
        super().teardown()

    def _reap_abandoned_runs(self) -> None:
        """Runs in the reaper thread until the worker stops."""
        try:
            while True:
                with self._reaping:
                    try:
                        if reaped := job_runs_reap():
                            logger.warning("Marked %d abandoned run(s) as failed.", reaped)
                    except Exception:
                        logger.exception("Checking for abandoned runs failed")
                    finally:
                        close_old_connections()
                if self._reaper_stop.wait(heartbeat_interval()):
                    return
        finally:
            connection.close()  # this thread's own database connection
