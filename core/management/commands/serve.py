"""`manage.py serve`: the web server (Daphne with Starling's connection limits), as `runstack` and Compose start it."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from core.server import LISTEN_BACKLOG, serve


class Command(BaseCommand):
    help = "Serve the site (HTTP and websockets) on --host/--port, with the request and websocket limits."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--backlog", type=int, default=LISTEN_BACKLOG, help=f"Listen backlog (default {LISTEN_BACKLOG})."
        )

    def handle(self, *args, host: str, port: int, backlog: int, **options) -> None:
        self.stdout.write(f"Serving Starling on http://{host}:{port}/")
        self.stdout.flush()
        serve(host=host, port=port, backlog=backlog)
