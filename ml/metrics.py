"""Classification metrics over the three labels: accuracy, macro-F1, per-class P/R/F1, confusion."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reviews.labels import LABELS


def confusion_matrix(true: Sequence[int], predicted: Sequence[int], classes: int = len(LABELS)) -> np.ndarray:
    """Rows: true class, columns: predicted class."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(true, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return matrix


def classification_report(true: Sequence[int], predicted: Sequence[int], labels: Sequence[str] = LABELS) -> dict:
    """n, accuracy, macro_f1, per_class {label: precision, recall, f1, support}, confusion (list of rows)."""
    matrix = confusion_matrix(true, predicted, len(labels))
    total = int(matrix.sum())
    per_class = {}
    f1s = []
    for index, label in enumerate(labels):
        tp = float(matrix[index, index])
        predicted_n = float(matrix[:, index].sum())
        support = float(matrix[index].sum())
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        f1s.append(f1)
        per_class[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": int(support),
        }
    return {
        "n": total,
        "accuracy": round(float(np.trace(matrix)) / total, 4) if total else 0.0,
        "macro_f1": round(float(np.mean(f1s)), 4) if total else 0.0,
        "per_class": per_class,
        "labels": list(labels),
        "confusion": matrix.tolist(),
    }
