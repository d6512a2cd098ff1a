"""`manage.py import_reviews FILE.csv`: labelled reviews from a CSV file into the training data."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from core.errors import StarlingError
from reviews.importing import ImportColumns, reviews_import_csv


class Command(BaseCommand):
    help = (
        "Import labelled reviews (labels bad/average/good, or 1-5 star ratings) from a CSV file as "
        "ScrapedReview rows with source 'import'. All or nothing unless --skip-bad-rows; importing "
        "the same file again adds nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", metavar="FILE.csv")
        parser.add_argument("--text-column", default="text", help="Column with the review text (default: text).")
        target = parser.add_mutually_exclusive_group()
        target.add_argument("--label-column", help="Column with bad/average/good (default: label).")
        target.add_argument("--rating-column", help="Column with 1-5 stars; the label follows from the stars.")
        parser.add_argument(
            "--company-column", default="company_name", help="Column with the company name (default: company_name)."
        )
        parser.add_argument(
            "--website-column",
            help="Column with the company's website, used to match companies by domain "
            "(default: company_website, when the file has it).",
        )
        parser.add_argument(
            "--skip-bad-rows", action="store_true", help="Import the good rows and report the bad ones."
        )

    def handle(self, *args, file: str, **options) -> None:
        columns = ImportColumns(
            text=options["text_column"],
            label=None if options["rating_column"] else options["label_column"] or "label",
            rating=options["rating_column"],
            company=options["company_column"],
            website=options["website_column"] or "company_website",
            website_required=options["website_column"] is not None,
        )
        bar: tqdm | None = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                bar = tqdm(total=total, unit="rows", desc="Importing", file=sys.stderr, disable=None)
            bar.update(done - bar.n)

        try:
            summary = reviews_import_csv(
                path=file, columns=columns, skip_bad_rows=options["skip_bad_rows"], progress=progress
            )
        except StarlingError as exc:
            raise CommandError(str(exc)) from None
        finally:
            if bar is not None:
                bar.close()
        self.stdout.write(summary.describe())
