"""The labelled dataset as a thing of its own: frozen into named snapshots, and exported as CSV or JSON lines.

A snapshot keeps the row ids with the effective label each had (after staff relabelled) and the text
each had, its size, class counts and a hash, so a training run can use exactly those rows again later,
whatever is edited or relabelled since. Exports stream
rows from the database in chunks: the table is never loaded whole.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from collections.abc import Iterable, Iterator

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction

from core.authors import recorded_author
from core.errors import StarlingError
from reviews.labels import LABELS
from reviews.models import DatasetSnapshot, DatasetSnapshotRow
from reviews.selectors import row_review_ids, training_rows, training_rows_streamed

EXPORT_FORMATS: tuple[str, ...] = ("csv", "jsonl")
EXPORT_COLUMNS: tuple[str, ...] = ("id", "text", "label")
CHUNK_ROWS = 2000


class DatasetSnapshotError(StarlingError):
    """A snapshot name is taken, malformed or unknown; the message says which and what to do."""

    code = "snapshot_invalid"


def dataset_rows_sha256(rows: Iterable[tuple[str, str]]) -> str:
    """The hash of a dataset: SHA-256 of its sorted `row id<TAB>label` lines."""
    return hashlib.sha256("\n".join(sorted(f"{row_id}\t{label}" for row_id, label in rows)).encode()).hexdigest()


def dataset_snapshot_get(name: str) -> DatasetSnapshot:
    """The snapshot called `name`; DatasetSnapshotError (naming a few known ones) if there is none."""
    snapshot = DatasetSnapshot.objects.filter(name=(name or "").strip()).first()
    if snapshot is None:
        known = ", ".join(DatasetSnapshot.objects.values_list("name", flat=True)[:20]) or "none yet"
        raise DatasetSnapshotError(
            f"No dataset snapshot named {name!r}. Known: {known}. Create one with `manage.py snapshot_dataset NAME`.",
            field="snapshot",
        )
    return snapshot


def dataset_snapshot_create(
    *, name: str, language: str = "en", include_user_reviews: bool = False, user=None
) -> DatasetSnapshot:
    """Freeze the current dataset (as training would read it now) under a new name."""
    name = (name or "").strip()
    try:
        validate_slug(name)
    except ValidationError:
        raise DatasetSnapshotError(
            f"Snapshot name {name!r} must be letters, digits, hyphens or underscores.", field="name"
        ) from None
    with transaction.atomic():
        if DatasetSnapshot.objects.filter(name=name).exists():
            raise DatasetSnapshotError(f"A snapshot named {name!r} exists already; choose another name.", field="name")
        rows = training_rows(language=language, include_user_reviews=include_user_reviews)
        snapshot = DatasetSnapshot.objects.create(
            name=name,
            language=language,
            include_user_reviews=include_user_reviews,
            rows=len(rows),
            class_counts=dict.fromkeys(LABELS, 0) | Counter(label for _, _, label in rows),
            source_counts=dict(Counter("visitor" if row_id[0] == "u" else "scraped" for row_id, _, _ in rows)),
            sha256=dataset_rows_sha256((row_id, label) for row_id, _, label in rows),
            created_by=recorded_author(user),
        )
        DatasetSnapshotRow.objects.bulk_create(
            (
                DatasetSnapshotRow(snapshot=snapshot, **row_review_ids(row_id), label=label, text=text)
                for row_id, text, label in rows
            ),
            batch_size=CHUNK_ROWS,
        )
    return snapshot


def _snapshot_rows_streamed(snapshot: DatasetSnapshot) -> Iterator[tuple[str, str, str]]:
    members = (
        DatasetSnapshotRow.objects.filter(snapshot=snapshot)
        .order_by("pk")
        .values_list("scraped_review_id", "user_review_id", "label", "text")
    )
    for scraped_id, user_id, label, text in members.iterator(chunk_size=CHUNK_ROWS):
        yield (f"s{scraped_id}", text, label) if scraped_id else (f"u{user_id}", text, label)


def dataset_snapshot_rows(snapshot: DatasetSnapshot) -> list[tuple[str, str, str]]:
    """(row id, text, label) of a snapshot, in the order it was frozen, with the texts and labels it was frozen with."""
    return list(_snapshot_rows_streamed(snapshot))


def dataset_rows_streamed(
    *, snapshot: DatasetSnapshot | None = None, language: str = "en", include_user_reviews: bool = False
) -> Iterator[tuple[str, str, str]]:
    """(row id, text, label) of a snapshot, or of the current dataset, read from the database in chunks."""
    if snapshot is not None:
        return _snapshot_rows_streamed(snapshot)
    return training_rows_streamed(language=language, include_user_reviews=include_user_reviews, chunk_size=CHUNK_ROWS)


def dataset_export_lines(rows: Iterable[tuple[str, str, str]], *, export_format: str) -> Iterator[str]:
    """The rows as CSV (a header `id,text,label`, then one record per row) or JSON lines, one string at a time."""
    if export_format not in EXPORT_FORMATS:
        raise DatasetSnapshotError(
            f"Unknown export format {export_format!r}; choose {' or '.join(EXPORT_FORMATS)}.", field="format"
        )
    if export_format == "jsonl":
        for row_id, text, label in rows:
            yield json.dumps({"id": row_id, "text": text, "label": label}, ensure_ascii=False) + "\n"
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for row_id, text, label in rows:
        writer.writerow((row_id, text, label))
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
