"""Labelled reviews from a CSV file become ScrapedReview rows (source `import`), all or nothing.

The whole file is read and checked before anything is written; then every new row is written in one
transaction. A bad row stops the import with its line number and reason, unless the caller asks to
skip bad rows, in which case they are left out and reported.

Each row gets a stable id, so importing a file again adds nothing: the SHA-256 of the company (its
website's domain, else its name), the text, and the row's occurrence number among rows of the file
with that same company and text. The occurrence number is what lets two genuinely separate reviews
that say the same thing about the same company ("Fast and easy", twice) both be stored, while a
second import of the same file still matches every row to the first.
"""

from __future__ import annotations

import csv
import hashlib
import io
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from django.db import transaction

from brands.domains import normalize_domain
from brands.selectors import companies_matching
from brands.services import companies_create, company_upsert
from core.csvfiles import ragged_row_problem
from core.errors import StarlingError
from reviews.labels import LABELS, stars_to_label
from reviews.models import ScrapedReview
from reviews.services import company_refresh_aggregates

IMPORT_SOURCE = "import"
BATCH_SIZE = 1000
MAX_REPORTED_LINES = 20
_DELIMITER_HINTS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}

ProgressCallback = Callable[[int, int], None]


class ReviewImportError(StarlingError):
    """A file that cannot be imported as asked; the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class ImportColumns:
    """Which CSV columns hold the text, the label or star rating, the company and its website."""

    text: str = "text"
    label: str | None = "label"
    rating: str | None = None
    company: str = "company_name"
    website: str = "company_website"
    website_required: bool = False  # the default website column is optional; one named by the user is not


@dataclass(frozen=True)
class RejectedRow:
    """A row that was not imported, with the file line it starts on."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportSummary:
    """What an import did."""

    read: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    companies_created: int = 0

    def describe(self) -> str:
        """The closing summary, one figure per line, then the rejected rows."""
        lines = [
            f"read:       {self.read}",
            f"stored:     {self.stored}",
            f"duplicates: {self.duplicates} (already imported)",
            f"rejected:   {len(self.rejected)}",
            f"companies:  {self.companies_created} created (inactive until staff activate them in the admin)",
        ]
        lines += [f"  {row}" for row in self.rejected[:MAX_REPORTED_LINES]]
        if len(self.rejected) > MAX_REPORTED_LINES:
            lines.append(f"  ... and {len(self.rejected) - MAX_REPORTED_LINES} more")
        return "\n".join(lines)


@dataclass(frozen=True)
class _Row:
    line: int
    text: str
    label: str
    stars: int | None
    company_name: str
    domain: str
    website: str

    @property
    def company_ref(self) -> tuple[str, str]:
        """How the row names its company: by website domain when it has one, else by name."""
        return ("domain", self.domain) if self.domain else ("name", " ".join(self.company_name.casefold().split()))


def reviews_import_csv(
    *,
    path: Path | str,
    columns: ImportColumns | None = None,
    skip_bad_rows: bool = False,
    progress: ProgressCallback | None = None,
) -> ImportSummary:
    """Import a labelled CSV into ScrapedReview in one transaction and return what happened."""
    columns = columns or ImportColumns()
    if (columns.label is None) == (columns.rating is None):
        raise ReviewImportError("Give exactly one of a label column (bad/average/good) or a rating column (1-5).")
    rows, rejected = _rows_read(Path(path), columns)
    summary = ImportSummary(read=len(rows) + len(rejected), rejected=rejected)
    if rejected and not skip_bad_rows:
        shown = "\n".join(f"  {row}" for row in rejected[:MAX_REPORTED_LINES])
        more = f"\n  ... and {len(rejected) - MAX_REPORTED_LINES} more" if len(rejected) > MAX_REPORTED_LINES else ""
        raise ReviewImportError(
            f"{len(rejected)} of {summary.read} rows are bad, so nothing was stored:\n{shown}{more}\n"
            "Fix those lines, or pass --skip-bad-rows to import the others and leave these out."
        )
    with transaction.atomic():
        _rows_store(rows, summary=summary, progress=progress)
    return summary


def labelled_rows_read(
    path: Path | str, *, text_column: str = "text", label_column: str = "label"
) -> list[tuple[str, str]]:
    """(text, label) of each row with text in a labelled CSV whose labels are bad/average/good or 1-5 stars.

    Reads the file as the import does; rows with blank text are skipped. A file, header, row or label
    that cannot be read raises ReviewImportError with its line and what to do.
    """
    path = Path(path)
    header, records = _csv_records(path, retry="try again")
    missing = [name for name in (text_column, label_column) if name not in header]
    if missing:
        raise ReviewImportError(
            f"{path}: the header needs columns {text_column} and {label_column} (missing {', '.join(missing)}; "
            f"found {', '.join(header) or 'no header'}).{_delimiter_hint(header)}"
        )
    rows: list[tuple[str, str]] = []
    for line, raw in records:
        if ragged := ragged_row_problem(raw, header_fields=len(header)):
            raise ReviewImportError(f"{path} line {line}: {ragged}.")
        text, value = raw[text_column].strip(), raw[label_column].strip()
        if not text:
            continue
        if value.lower() in LABELS:
            rows.append((text, value.lower()))
        elif _is_star_rating(value):
            rows.append((text, stars_to_label(int(float(value)))))
        else:
            raise ReviewImportError(
                f"{path} line {line}: label {value!r} is not one of {', '.join(LABELS)} or a 1-5 star rating."
            )
    if not rows:
        raise ReviewImportError(f"{path} has no labelled rows with text.")
    return rows


def _csv_records(path: Path, *, retry: str = "import it again") -> tuple[list[str], Iterator[tuple[int, dict]]]:
    """The header (names stripped) and the records of a UTF-8 CSV file; a file that cannot be read raises."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ReviewImportError(f"No such file: {path}") from None
    except IsADirectoryError:
        raise ReviewImportError(f"{path} is a folder, not a CSV file.") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ReviewImportError(
            f"{path} is not UTF-8 text (line {line}, byte {exc.start}): nothing was stored. "
            f"Save the file as UTF-8 and {retry}."
        ) from None
    if not text.strip():
        raise ReviewImportError(f"{path} is empty: expected a header line and labelled rows.")
    csv.field_size_limit(sys.maxsize)
    # newline="": records split only at \n, \r or \r\n, never at the other characters str.splitlines
    # treats as line ends (U+2028, \x85, ...) that do occur inside real review texts.
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    reader.fieldnames = header
    return header, _records(reader, path)


def _rows_read(path: Path, columns: ImportColumns) -> tuple[list[_Row], list[RejectedRow]]:
    """Decode, parse and check every row; file-level problems raise, row-level ones are collected."""
    header, records = _csv_records(path)
    _header_check(path, header, columns)
    rows: list[_Row] = []
    rejected: list[RejectedRow] = []
    for line, raw in records:
        problem = _row_problem(raw, header, columns)
        if problem:
            rejected.append(RejectedRow(line, problem))
            continue
        website = (raw.get(columns.website) or "").strip() if columns.website in header else ""
        rating = raw[columns.rating].strip() if columns.rating else ""
        stars = int(float(rating)) if rating else None
        rows.append(
            _Row(
                line=line,
                text=raw[columns.text].strip(),
                label=stars_to_label(stars) if stars else raw[columns.label].strip().lower(),
                stars=stars,
                company_name=" ".join(raw[columns.company].split()),
                domain=normalize_domain(website),
                website=_website_clean(website),
            )
        )
    if not rows and not rejected:
        raise ReviewImportError(f"{path} has a header but no rows.")
    return rows, rejected


def _records(reader: csv.DictReader, path: Path) -> Iterator[tuple[int, dict]]:
    """Yield (line the record starts on, record); a broken CSV structure raises with its line."""
    start = reader.line_num + 1
    try:
        for raw in reader:
            yield start, raw
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ReviewImportError(f"{path} line {reader.line_num}: not valid CSV ({exc}); nothing was stored.") from None


def _header_check(path: Path, header: list[str], columns: ImportColumns) -> None:
    wanted = {"text": columns.text, "label": columns.label, "rating": columns.rating, "company": columns.company}
    if columns.website_required:
        wanted["website"] = columns.website
    missing = [f"{name!r} ({role})" for role, name in wanted.items() if name and name not in header]
    if not missing:
        return
    message = f"{path} has no {', '.join(missing)} column. Its header is: {', '.join(map(repr, header))}."
    message += _delimiter_hint(header)
    message += (
        " Name the columns with --text-column, --label-column or --rating-column, --company-column"
        " and --website-column."
    )
    raise ReviewImportError(message)


def _delimiter_hint(header: list[str]) -> str:
    """When a one-column header looks separated by something other than commas, a sentence that says so."""
    if len(header) == 1:
        for delimiter, word in _DELIMITER_HINTS.items():
            if delimiter in header[0]:
                return f" The columns look separated by {word}: save the file as comma-separated CSV."
    return ""


def _row_problem(raw: dict, header: list[str], columns: ImportColumns) -> str:
    """Why a row cannot be imported, or an empty string when it can."""
    if ragged := ragged_row_problem(raw, header_fields=len(header)):
        return ragged
    problems = []
    if not raw[columns.text].strip():
        problems.append("the text is empty")
    if columns.label:
        label = raw[columns.label].strip()
        if label.lower() not in LABELS:
            problems.append(f"label {label!r} is not one of {', '.join(LABELS)}")
    if columns.rating:
        rating = raw[columns.rating].strip()
        if not _is_star_rating(rating):
            problems.append(f"rating {rating!r} is not a whole number from 1 to 5")
    if not raw[columns.company].strip():
        problems.append("the company name is empty")
    return "; ".join(problems)


def _website_clean(website: str) -> str:
    """The site's address without tracking parameters, or empty when it is not an http(s) address."""
    parts = urlsplit(website)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    return f"{parts.scheme}://{parts.netloc}{parts.path}"[:500]


def _is_star_rating(value: str) -> bool:
    try:
        number = float(value)
    except ValueError:
        return False
    return number.is_integer() and 1 <= number <= 5


def _rows_store(rows: list[_Row], *, summary: ImportSummary, progress: ProgressCallback | None) -> None:
    """Resolve companies, skip rows already imported, bulk-insert the rest, refresh the aggregates."""
    companies, summary.companies_created = _companies_resolve(rows)
    occurrences: Counter[tuple] = Counter()
    keyed: list[tuple[str, _Row]] = []
    for row in rows:
        identity = (*row.company_ref, row.text)
        occurrences[identity] += 1
        keyed.append((_source_id(identity, occurrences[identity]), row))
    touched: set[int] = set()
    done = 0
    for start in range(0, len(keyed), BATCH_SIZE):
        batch = keyed[start : start + BATCH_SIZE]
        existing = set(
            ScrapedReview.objects.filter(source=IMPORT_SOURCE, source_id__in=[key for key, _ in batch]).values_list(
                "source_id", flat=True
            )
        )
        new = [
            ScrapedReview(
                company_id=companies[row.company_ref],
                source=IMPORT_SOURCE,
                source_id=key,
                stars=row.stars,
                label=row.label,
                text=row.text,
            )
            for key, row in batch
            if key not in existing
        ]
        ScrapedReview.objects.bulk_create(new)
        summary.stored += len(new)
        summary.duplicates += len(batch) - len(new)
        touched.update(review.company_id for review in new)
        done += len(batch)
        if progress:
            progress(done, len(keyed))
    company_refresh_aggregates(touched)


def _source_id(identity: tuple, occurrence: int) -> str:
    payload = "\x1f".join([*identity, str(occurrence)])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _companies_resolve(rows: list[_Row]) -> tuple[dict[tuple[str, str], int], int]:
    """Map each company the file names to a Company id, creating (inactive) the ones not found."""
    first_row: dict[tuple[str, str], _Row] = {}
    for row in rows:
        first_row.setdefault(row.company_ref, row)
    matched = companies_matching((row.domain, row.company_name) for row in first_row.values())
    found: dict[tuple[str, str], int] = {}
    to_create: dict[tuple[str, str], _Row] = {}
    for ref, row in first_row.items():
        match = matched.get((row.domain, row.company_name))
        if match is None:
            to_create[ref] = row
        elif row.domain and match[1] is None:  # a company known by name only: company_upsert gives it this domain
            found[ref] = company_upsert(name=row.company_name, domain=row.domain, website=row.website).pk
        else:
            found[ref] = match[0]
    # Companies met only in imported data stay off the review form until staff choose to offer them.
    created = companies_create(
        rows=[{"name": row.company_name, "domain": row.domain, "website": row.website} for row in to_create.values()],
        source=IMPORT_SOURCE,
        is_active=False,
    )
    found.update(zip(to_create, (company.pk for company in created), strict=True))
    return found, len(created)
