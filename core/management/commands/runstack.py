"""`manage.py runstack`: embedded Redis + RQ worker + Daphne, as `make run` starts them, kept running."""

from __future__ import annotations

import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.queues import DEFAULT_REDIS_URL
from core.stack import Stack, StackCannotStart


class Command(BaseCommand):
    help = (
        "Run the whole site: embedded Redis (unless REDIS_URL answers), RQ workers and Daphne. A worker or "
        "Redis that dies is started again while the site keeps serving; Ctrl-C stops everything."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to serve on (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8000, help="Port to serve on (default 8000).")
        parser.add_argument("--workers", type=int, default=1, help="RQ worker processes (default 1).")

    def handle(self, *args, host: str, port: int, workers: int, **options) -> None:
        stack = Stack(
            host=host,
            port=port,
            redis_url=settings.REDIS_URL or DEFAULT_REDIS_URL,
            var_dir=settings.VAR_DIR,
            workers=workers,
        )

        def stop(signum, frame):  # Ctrl-C or SIGTERM: leave wait() and stop everything below
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        status = 0
        try:
            stack.start(log=self.stdout.write)
            status = stack.wait(log=self.stderr.write)
        except StackCannotStart as exc:
            raise CommandError(exc.message) from None
        except KeyboardInterrupt:
            self.stdout.write("Stopping Starling...")
        finally:
            stack.stop()
        if status:
            raise SystemExit(status)
