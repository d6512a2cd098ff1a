"""`manage.py export_dataset [--snapshot NAME] --format csv|jsonl [--output FILE]`: stream the dataset out."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core.errors import StarlingError
from reviews.dataset import EXPORT_FORMATS, dataset_export_lines, dataset_rows_streamed, dataset_snapshot_get


class Command(BaseCommand):
    help = (
        "Write the training dataset (id, text, label: the effective label) as CSV or JSON lines, read in chunks; "
        "a snapshot's rows with the labels they were frozen with, or the current dataset."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--snapshot", default="", help="A snapshot's name; default: the current dataset.")
        parser.add_argument("--format", required=True, choices=EXPORT_FORMATS, help="csv or jsonl.")
        parser.add_argument("--output", default="", help="File to write; default: standard output.")
        parser.add_argument("--language", default="en", help="For the current dataset: language code, or 'all'.")
        parser.add_argument(
            "--include-user-reviews", action="store_true", help="For the current dataset: add visitors' picked reviews."
        )

    def handle(self, *args, **options) -> None:
        try:
            snapshot = dataset_snapshot_get(options["snapshot"]) if options["snapshot"] else None
        except StarlingError as exc:
            raise CommandError(str(exc)) from None
        rows = dataset_rows_streamed(
            snapshot=snapshot,
            language="" if options["language"].lower() == "all" else options["language"],
            include_user_reviews=options["include_user_reviews"],
        )
        lines = dataset_export_lines(rows, export_format=options["format"])
        if not options["output"]:
            for chunk in lines:
                self.stdout.write(chunk, ending="")
            return
        try:
            with open(options["output"], "w", encoding="utf-8", newline="") as file:
                for chunk in lines:
                    file.write(chunk)
        except OSError as exc:
            raise CommandError(f"Cannot write {options['output']}: {exc.strerror}.") from None
        self.stderr.write(f"Wrote {options['output']}.")
