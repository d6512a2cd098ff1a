"""The labelled dataset: rows from the database (or any labelled rows), de-duplicated, split by class.

`dataset_build` takes its rows from the reviews app (`reviews.selectors.training_rows`: scraped
reviews staff have not excluded and not put in the gold set, with their effective labels, in one
language, English by default, and optionally visitors' reviews labelled by the rating they picked),
or from a frozen snapshot (`reviews.dataset`). `dataset_from_rows` does the rest without Django, so
benchmarks can use it on a CSV.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from core.errors import StarlingError
from reviews.labels import LABELS

MIN_ROWS_PER_CLASS = 10
SPLIT_FRACTIONS = {"validation": 0.1, "test": 0.1}
_SPACES = re.compile(r"\s+")


class NotEnoughData(StarlingError):
    """Too few labelled rows to train; the message says which classes are short."""

    code = "not_enough_data"


@dataclass
class LabelledTexts:
    texts: list[str]
    labels: np.ndarray  # int64 indices into LABELS

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class Dataset:
    splits: dict[str, LabelledTexts]  # train, validation, test
    description: dict  # sizes, class counts, a hash of the row ids, how rows were chosen


def text_key(text: str) -> str:
    """What makes two reviews the same text: case and spacing ignored."""
    return _SPACES.sub(" ", text).strip().casefold()


def dataset_from_rows(rows: Iterable[tuple[str, str, str]], *, seed: int = 1234, source: dict | None = None) -> Dataset:
    """Split (row id, text, label) rows: de-duplicate texts, refuse too little data, stratify with a seed."""
    seen: set[str] = set()
    ids: list[str] = []
    texts: list[str] = []
    labels: list[int] = []
    duplicates = 0
    label_index = {label: index for index, label in enumerate(LABELS)}
    for row_id, text, label in rows:
        key = text_key(text)
        if not key:
            continue
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        ids.append(str(row_id))
        texts.append(text)
        labels.append(label_index[label])
    y = np.asarray(labels, dtype=np.int64)
    counts = {label: int((y == index).sum()) for index, label in enumerate(LABELS)}
    short = [f"{label} has {n}" for label, n in counts.items() if n < MIN_ROWS_PER_CLASS]
    if short:
        raise NotEnoughData(
            f"Not enough labelled reviews to train: {', '.join(short)} (each class needs at least "
            f"{MIN_ROWS_PER_CLASS} distinct texts). Import more with `manage.py import_reviews` or crawl."
        )
    rng = np.random.default_rng(seed)
    chosen: dict[str, list[int]] = {"train": [], "validation": [], "test": []}
    for index in range(len(LABELS)):
        members = rng.permutation(np.flatnonzero(y == index))
        n_val = max(1, round(len(members) * SPLIT_FRACTIONS["validation"]))
        n_test = max(1, round(len(members) * SPLIT_FRACTIONS["test"]))
        chosen["validation"] += members[:n_val].tolist()
        chosen["test"] += members[n_val : n_val + n_test].tolist()
        chosen["train"] += members[n_val + n_test :].tolist()
    splits = {}
    for name, members in chosen.items():
        members = sorted(members)
        splits[name] = LabelledTexts([texts[i] for i in members], y[members])
    description = {
        **(source or {}),
        "seed": seed,
        "rows": len(texts),
        "duplicates_dropped": duplicates,
        "class_counts": counts,
        "sizes": {name: len(split) for name, split in splits.items()},
        "split_class_counts": {
            name: {label: int((split.labels == i).sum()) for i, label in enumerate(LABELS)}
            for name, split in splits.items()
        },
        "row_ids_sha256": hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest(),
    }
    return Dataset(splits, description)


def dataset_build(
    *, language: str = "en", include_user_reviews: bool = False, seed: int = 1234, max_rows: int = 0, snapshot: str = ""
) -> Dataset:
    """The training dataset from the database, or from a frozen snapshot (see the module docstring)."""
    from reviews.dataset import dataset_snapshot_get, dataset_snapshot_rows
    from reviews.selectors import training_rows

    if snapshot:
        frozen = dataset_snapshot_get(snapshot)
        rows = dataset_snapshot_rows(frozen)
        source = {"source": "snapshot", "snapshot": frozen.name, "snapshot_sha256": frozen.sha256}
    else:
        rows = training_rows(language=language, include_user_reviews=include_user_reviews)
        source = {"source": "database", "language": language or "all", "include_user_reviews": include_user_reviews}
    user_rows = sum(1 for row_id, _, _ in rows if row_id.startswith("u"))
    if max_rows and len(rows) > max_rows:
        keep = np.sort(np.random.default_rng(seed).choice(len(rows), size=max_rows, replace=False))
        rows = [rows[i] for i in keep]
    source.update(user_review_rows=user_rows, max_rows=max_rows)
    return dataset_from_rows(rows, seed=seed, source=source)
