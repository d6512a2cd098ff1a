"""The gold set's score for a model: the reviews staff verified from their text, which training never uses."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np
from django.utils import timezone

from ml.inference import clean_text
from ml.metrics import classification_report
from reviews.labels import LABELS
from reviews.selectors import gold_rows

if TYPE_CHECKING:
    from ml.checkpoint import SentimentModel


def gold_set_evaluate(*, model: SentimentModel) -> dict:
    """n, accuracy, macro_f1 (and the full report) of a model on the gold set; `{"n": 0}` while it is empty."""
    rows = gold_rows()
    if not rows:
        return {"n": 0}
    labels = np.asarray([LABELS.index(label) for _, _, label in rows], dtype=np.int64)
    probabilities = model.probabilities([clean_text(text) for _, text, _ in rows])
    report = classification_report(labels, probabilities.argmax(axis=1))
    rows_hash = hashlib.sha256("\n".join(f"{row_id}\t{label}" for row_id, _, label in rows).encode()).hexdigest()
    return {**report, "rows_sha256": rows_hash, "scored_at": timezone.now().isoformat(timespec="seconds")}
