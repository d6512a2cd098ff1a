"""`manage.py import_pages PATH...`: saved company pages through the crawler's parser and storage."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from crawling.console import new_companies_note
from crawling.imports import pages_import


class Command(BaseCommand):
    help = "Import saved review-site company pages (.html or .html.gz files, or folders of them)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH", help="A page file, or a folder of them.")

    def handle(self, *args, **options) -> None:
        files: list[Path] = []
        for raw in options["paths"]:
            path = Path(raw)
            if path.is_dir():
                files += sorted(p for p in path.iterdir() if p.name.endswith((".html", ".html.gz")))
            elif path.is_file() and path.name.endswith((".html", ".html.gz")):
                files.append(path)
            elif path.is_file():
                raise CommandError(f"{path} is not a saved page: give .html or .html.gz files.")
            else:
                raise CommandError(f"{path} does not exist.")
        if not files:
            raise CommandError("No .html or .html.gz files found in the given paths.")
        totals = pages_import(paths=files)
        for path, reason in totals["failed"]:
            self.stderr.write(f"skipped {path}: {reason}")
        self.stdout.write(
            f"Imported {totals['pages']} of {len(files)} pages: {totals['new']} new reviews, "
            f"{totals['updated']} updated, {totals['unchanged']} unchanged, {totals['skipped']} skipped."
        )
        if totals["companies_new"]:
            self.stdout.write(new_companies_note(totals["companies_new"]))
        if not totals["pages"]:
            raise CommandError("None of the pages could be imported.")
