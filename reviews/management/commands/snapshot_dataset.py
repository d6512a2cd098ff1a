"""`manage.py snapshot_dataset NAME [--language en] [--include-user-reviews]`: freeze the current dataset."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core.errors import StarlingError
from reviews.dataset import dataset_snapshot_create


class Command(BaseCommand):
    help = "Freeze the current training dataset (row ids with their effective labels) as a named snapshot."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="The snapshot's name: letters, digits, hyphens, underscores.")
        parser.add_argument("--language", default="en", help="Language code as training reads it; 'all': every one.")
        parser.add_argument(
            "--include-user-reviews", action="store_true", help="Add visitors' reviews whose rating they picked."
        )

    def handle(self, *args, **options) -> None:
        language = "" if options["language"].lower() == "all" else options["language"]
        try:
            snapshot = dataset_snapshot_create(
                name=options["name"], language=language, include_user_reviews=options["include_user_reviews"]
            )
        except StarlingError as exc:
            raise CommandError(str(exc)) from None
        counts = ", ".join(f"{label} {n}" for label, n in snapshot.class_counts.items())
        self.stdout.write(f"Snapshot {snapshot.name}: {snapshot.rows} rows ({counts}); sha256 {snapshot.sha256[:16]}…")
