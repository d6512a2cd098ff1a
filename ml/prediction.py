"""The one place class probabilities become the prediction object the site serves.

`score` is the expected sentiment on [0, 1]: P(good) + 0.5 * P(average).
`suggested_rating` follows the tutorial's bands: min(int(score * 5 + 1), 5), so 0-0.2 → 1 star,
0.2-0.4 → 2, ..., 0.8-1 → 5. Against real star ratings these bands suggest the visitor's own rating
more often than expected stars with the classes at 1.5 / 3 / 4.5 do (bench/ml_accuracy.py; the
figures are in docs/PERFORMANCE.md), so they stay.
"""

from __future__ import annotations

from reviews.labels import LABELS


def empty_prediction(model: str) -> dict:
    """The answer for empty or blank text: nothing to score."""
    return {"score": None, "label": None, "probabilities": None, "suggested_rating": None, "model": model}


def score_from_probabilities(probabilities: dict[str, float]) -> float:
    """Expected sentiment in [0, 1]."""
    score = probabilities["good"] + 0.5 * probabilities["average"]
    return min(1.0, max(0.0, score))


def suggested_rating_from_score(score: float) -> int:
    """A 1-5 star suggestion from a score in [0, 1]."""
    return min(int(score * 5 + 1), 5)


def prediction_from_probabilities(probabilities: dict[str, float], model: str) -> dict:
    """Build the fixed prediction object from class probabilities (keys bad, average, good)."""
    probs = {label: round(float(probabilities[label]), 4) for label in LABELS}
    score = score_from_probabilities({label: float(probabilities[label]) for label in LABELS})
    label = max(LABELS, key=lambda name: probabilities[name])
    return {
        "score": round(score, 4),
        "label": label,
        "probabilities": probs,
        "suggested_rating": suggested_rating_from_score(score),
        "model": model,
    }
