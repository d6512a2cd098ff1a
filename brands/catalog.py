"""Brand lists from CSV: the built-in starter brands and any list staff load with `load_brands --csv`.

A file is checked whole before anything is written, and then written in one transaction, so a bad
line stops the load with its line number and leaves the database as it was. Loading the same file
again changes nothing and says so.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from brands.domains import normalize_domain
from brands.models import Category
from brands.selectors import company_matching
from brands.services import category_upsert, company_upsert
from core.csvfiles import ragged_row_problem
from core.errors import StarlingError

STARTER_BRANDS_CSV = Path(__file__).resolve().parent / "starter_brands.csv"
REQUIRED_COLUMNS = ("name", "category")
OPTIONAL_COLUMNS = ("domain", "website", "sub_category")
_MAX_REPORTED_ERRORS = 20


class BrandCatalogError(StarlingError):
    """A brand list that cannot be loaded; the message names the lines and what is wrong."""


@dataclass(frozen=True)
class BrandRow:
    """One checked line of a brand list."""

    line: int
    name: str
    domain: str
    website: str
    category: str
    sub_category: str


@dataclass
class BrandLoadSummary:
    """What a load did: brands created, updated or already up to date."""

    read: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    categories_created: int = 0

    @property
    def changed_anything(self) -> bool:
        return bool(self.created or self.updated or self.categories_created)

    def describe(self) -> str:
        """One line for the command's output."""
        if not self.changed_anything:
            return f"{self.read} brands read: all already loaded, nothing changed."
        return (
            f"{self.read} brands read: {len(self.created)} created, {len(self.updated)} updated, "
            f"{self.unchanged} unchanged; {self.categories_created} categories created."
        )


def brand_rows_read(text: str) -> list[BrandRow]:
    """Parse and check a brand list; raise BrandCatalogError naming every bad line (up to 20)."""
    if not text.strip():
        raise BrandCatalogError("The brand list is empty: expected a header line `name,domain,website,category`.")
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise BrandCatalogError(
            f"The brand list has no {', '.join(repr(m) for m in missing)} column (header: {', '.join(header)}). "
            f"Expected columns: {', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}, comma-separated."
        )
    rows: list[BrandRow] = []
    errors: list[str] = []
    seen_domains: dict[str, int] = {}
    check_url = URLValidator(schemes=["http", "https"])
    for raw in reader:
        line = reader.line_num
        if ragged := ragged_row_problem(raw, header_fields=len(header)):
            errors.append(f"line {line}: {ragged}")
            continue
        values = {key.strip(): (value or "").strip() for key, value in raw.items()}
        problems = []
        if not values.get("name"):
            problems.append("the name is empty")
        if not values.get("category"):
            problems.append("the category is empty")
        website = values.get("website", "")
        if website:
            try:
                check_url(website)
            except ValidationError:
                problems.append(f"website {website!r} is not an http(s) address")
        domain = normalize_domain(values.get("domain", "") or website)
        if values.get("domain") and "." not in domain:
            problems.append(f"domain {values['domain']!r} is not a host name like example.com")
        if domain and domain in seen_domains:
            problems.append(f"domain {domain} is already used on line {seen_domains[domain]}")
        if problems:
            errors.append(f"line {line}: {'; '.join(problems)}")
            continue
        if domain:
            seen_domains[domain] = line
        rows.append(
            BrandRow(
                line=line,
                name=values["name"],
                domain=domain,
                website=website,
                category=values["category"],
                sub_category=values.get("sub_category", ""),
            )
        )
    if errors:
        shown = errors[:_MAX_REPORTED_ERRORS]
        more = f"\n... and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
        raise BrandCatalogError("The brand list has bad lines; nothing was loaded:\n" + "\n".join(shown) + more)
    if not rows:
        raise BrandCatalogError("The brand list has a header but no brands.")
    return rows


def brands_load_csv(*, path: Path | str | None = None, source: str = "starter") -> BrandLoadSummary:
    """Create or update the brands of a CSV list (the built-in starter list when no path is given)."""
    csv_path = Path(path) if path else STARTER_BRANDS_CSV
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BrandCatalogError(f"No such file: {csv_path}") from None
    except UnicodeDecodeError as exc:
        raise BrandCatalogError(f"{csv_path} is not UTF-8 text (byte {exc.start}); save it as UTF-8.") from None
    rows = brand_rows_read(text)
    summary = BrandLoadSummary(read=len(rows))
    with transaction.atomic():
        categories_before = Category.objects.count()
        categories: dict[tuple[str, str], Category] = {}
        for row in rows:
            _brand_row_store(row, source=source, summary=summary, categories=categories)
        summary.categories_created = Category.objects.count() - categories_before
    return summary


def _brand_row_store(
    row: BrandRow, *, source: str, summary: BrandLoadSummary, categories: dict[tuple[str, str], Category]
) -> None:
    """Store one brand and link it to its category and sub-category (upserted once per load)."""
    wanted = [(row.category, "")] + ([(row.sub_category, row.category)] if row.sub_category else [])
    for name, parent in wanted:
        if (name, parent) not in categories:
            categories[name, parent] = category_upsert(name=name, parent=categories[parent, ""] if parent else None)
    own = [categories[key] for key in wanted]
    before = company_matching(domain=row.domain, name=row.name)  # what company_upsert is about to find
    company = company_upsert(name=row.name, domain=row.domain, website=row.website, source=source)
    linked = set(company.categories.values_list("pk", flat=True))
    missing = [category for category in own if category.pk not in linked]
    if missing:
        company.categories.add(*missing)
    if before is None:
        summary.created.append(company.name)
    elif missing or company.updated_at != before.updated_at:
        summary.updated.append(company.name)
    else:
        summary.unchanged += 1
