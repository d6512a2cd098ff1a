"""The served model as the scorer of visitors' reviews (registered with `reviews.scoring` at start-up)."""

from __future__ import annotations

from reviews.scoring import ReviewScore


def review_score_with_served_model(text: str) -> ReviewScore:
    """The active model's prediction for a review, with the ModelVersion row that made it (if any)."""
    from ml.inference import predict
    from ml.models import ModelVersion

    prediction = predict(text)
    name = prediction.get("model") or ""
    return ReviewScore(
        score=prediction.get("score"),
        suggested_rating=prediction.get("suggested_rating"),
        probabilities=prediction.get("probabilities") or {},
        model_name=name,
        model_version_id=ModelVersion.objects.filter(name=name).values_list("pk", flat=True).first() if name else None,
    )
