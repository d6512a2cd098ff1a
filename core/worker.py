"""Starling's RQ worker: RQ's own, plus a check every minute for runs whose job died with its worker."""

from __future__ import annotations

import logging

from django.db import close_old_connections
from rq import Worker

from core.jobs import job_runs_reap

logger = logging.getLogger(__name__)


class StarlingWorker(Worker):
    """An RQ worker whose maintenance (every `maintenance_interval` s) also marks abandoned runs as failed."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("maintenance_interval", 60)
        super().__init__(*args, **kwargs)

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        try:
            if reaped := job_runs_reap():
                logger.warning("Marked %d abandoned run(s) as failed.", reaped)
        except Exception:
            logger.exception("Checking for abandoned runs failed")
        finally:
            close_old_connections()
