"""`manage.py load_brands [--csv FILE] [--if-empty]`: the starter brands, or a brand list from a CSV file."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from brands.catalog import STARTER_BRANDS_CSV, brands_load_csv
from brands.models import Company
from core.errors import StarlingError


class Command(BaseCommand):
    help = (
        "Load the built-in starter brands (or, with --csv, a list with columns "
        "name,domain,website,category,sub_category). Safe to run again: unchanged brands are left alone."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--csv", dest="csv_path", metavar="FILE", help="Load this CSV instead of the starter list.")
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when the database already has companies."
        )

    def handle(self, *args, csv_path: str | None, if_empty: bool, **options) -> None:
        if if_empty and Company.objects.exists():
            self.stdout.write("Companies already exist; starter brands not loaded (--if-empty).")
            return
        try:
            summary = brands_load_csv(path=csv_path, source="import" if csv_path else "starter")
        except StarlingError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{csv_path or STARTER_BRANDS_CSV.name}: {summary.describe()}")
