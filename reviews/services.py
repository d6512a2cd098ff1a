"""Writes to reviews: the one place a visitor's review is created, hidden or shown, and dataset flags."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from brands.models import Company
from brands.services import company_refresh_aggregates
from core.privacy import hash_ip
from reviews.models import ScrapedReview, UserReview


def review_text_clean(text: str) -> str:
    """Strip the text and check its length against REVIEW_MIN_CHARS / REVIEW_MAX_CHARS."""
    cleaned = (text or "").replace("\x00", "").strip()
    if len(cleaned) < settings.REVIEW_MIN_CHARS:
        raise ValidationError({"text": f"Write at least {settings.REVIEW_MIN_CHARS} characters."})
    if len(cleaned) > settings.REVIEW_MAX_CHARS:
        raise ValidationError(
            {"text": f"Keep it under {settings.REVIEW_MAX_CHARS} characters (this is {len(cleaned)})."}
        )
    return cleaned


def user_review_create(
    *,
    company: Company,
    text: str,
    rating: int,
    ip: str | None = None,
    user_agent: str = "",
    user=None,
    submission_key: str | None = None,
) -> UserReview:
    """Score the text on the server, store the visitor's review and update the brand's aggregates.

    With a `submission_key` (one per rendered form), sending the same submission again returns the
    review already stored instead of storing a second one; the database's unique key decides races.
    """
    from ml.inference import predict
    from ml.models import ModelVersion

    if submission_key and (existing := UserReview.objects.filter(submission_key=submission_key).first()):
        return existing
    cleaned = review_text_clean(text)
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise ValidationError({"rating": "Choose a rating from 1 to 5 stars."})
    if not company.is_active:
        raise ValidationError({"brand": "This brand is not open for reviews."})
    prediction = predict(cleaned)
    model_version = ModelVersion.objects.filter(name=prediction.get("model") or "").first()
    try:
        with transaction.atomic():
            review = UserReview.objects.create(
                company=company,
                text=cleaned,
                rating=rating,
                suggested_rating=prediction.get("suggested_rating"),
                score=prediction.get("score"),
                probabilities=prediction.get("probabilities") or {},
                model_version=model_version,
                model_name=prediction.get("model") or "",
                user=user if getattr(user, "is_authenticated", False) else None,
                ip_hash=hash_ip(ip),
                user_agent=(user_agent or "")[:512],
                submission_key=submission_key or None,
            )
            company_refresh_aggregates([company.pk])
    except IntegrityError:
        # Two copies of one submission raced: the first one stored is the answer to both.
        if submission_key and (existing := UserReview.objects.filter(submission_key=submission_key).first()):
            return existing
        raise
    return review


def user_review_set_status(*, review_ids: Iterable[int], status: str) -> int:
    """Hide or show visitors' reviews; brand aggregates follow. Returns how many changed."""
    if status not in UserReview.Status.values:
        raise ValueError(f"status must be one of {UserReview.Status.values}")
    ids = list(review_ids)
    with transaction.atomic():
        changed = UserReview.objects.filter(pk__in=ids).exclude(status=status)
        company_ids = set(changed.values_list("company_id", flat=True))
        count = changed.update(status=status)
        company_refresh_aggregates(company_ids)
    return count


def scraped_review_set_excluded(*, review_ids: Iterable[int], excluded: bool) -> int:
    """Take scraped reviews out of the training dataset, or put them back. Returns how many changed."""
    return ScrapedReview.objects.filter(pk__in=list(review_ids)).exclude(excluded=excluded).update(excluded=excluded)
