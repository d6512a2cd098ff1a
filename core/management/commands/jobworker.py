"""`manage.py jobworker`: an RQ worker on every registered queue (`core.queues`), or on the ones named."""

from __future__ import annotations

from django_rq.management.commands.rqworker import Command as RQWorkerCommand

from core.queues import QUEUES


class Command(RQWorkerCommand):
    help = f"Run an RQ worker on the named queues, or on all of them ({', '.join(QUEUES)})."

    def handle(self, *queues: str, **options) -> None:
        unknown = [name for name in queues if name not in QUEUES]
        if unknown:
            self.stderr.write(f"Unknown queue {', '.join(unknown)}: the queues are {', '.join(QUEUES)}.")
            raise SystemExit(2)
        super().handle(*(queues or QUEUES), **options)
