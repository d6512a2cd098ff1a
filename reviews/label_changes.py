"""Staff decisions about scraped reviews' labels, each written with its audit trail (a LabelChange row).

Relabel, confirm, exclude or include, verify (gold set) or unverify: who, when, the effective label
before and after, and why. The collected stars and label are never changed: a new label goes to
`corrected_label`, which training reads instead.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.authors import recorded_author
from reviews.labels import LABELS
from reviews.models import LabelChange, ScrapedReview

Action = LabelChange.Action
REASON_MAX_CHARS = LabelChange._meta.get_field("reason").max_length


def _changes(reviews: list[ScrapedReview], action: str, *, new_labels: dict[int, str], user, reason: str) -> int:
    LabelChange.objects.bulk_create(
        LabelChange(
            review=review,
            action=action,
            old_label=review.effective_label,
            new_label=new_labels.get(review.pk, review.effective_label),
            reason=(reason or "")[:REASON_MAX_CHARS],
            changed_by=recorded_author(user),
        )
        for review in reviews
    )
    return len(reviews)


def _locked(review_ids: Iterable[int]) -> list[ScrapedReview]:
    return list(ScrapedReview.objects.select_for_update().filter(pk__in=list(review_ids)).order_by("pk"))


def scraped_review_relabel(*, review_ids: Iterable[int], label: str, user=None, reason: str = "") -> int:
    """Give reviews a new effective label (the collected one is kept); returns how many changed."""
    if label not in LABELS:
        raise ValidationError({"label": f"Choose a label from {', '.join(LABELS)}."})
    with transaction.atomic():
        reviews = [review for review in _locked(review_ids) if review.effective_label != label]
        for review in reviews:
            corrected = None if label == review.label else label
            ScrapedReview.objects.filter(pk=review.pk).update(corrected_label=corrected, updated_at=timezone.now())
        return _changes(reviews, Action.RELABEL, new_labels={r.pk: label for r in reviews}, user=user, reason=reason)


def scraped_review_confirm_label(*, review_ids: Iterable[int], user=None, reason: str = "") -> int:
    """Record that staff read the reviews and their effective labels are right; returns how many."""
    with transaction.atomic():
        return _changes(_locked(review_ids), Action.CONFIRM, new_labels={}, user=user, reason=reason)


def scraped_review_exclude(*, review_ids: Iterable[int], excluded: bool = True, user=None, reason: str = "") -> int:
    """Take reviews out of the dataset (or put them back), recording it; returns how many changed."""
    with transaction.atomic():
        reviews = [review for review in _locked(review_ids) if review.excluded != excluded]
        ScrapedReview.objects.filter(pk__in=[r.pk for r in reviews]).update(
            excluded=excluded, updated_at=timezone.now()
        )
        action = Action.EXCLUDE if excluded else Action.INCLUDE
        return _changes(reviews, action, new_labels={}, user=user, reason=reason)


def scraped_review_verify(*, review_ids: Iterable[int], verified: bool = True, user=None, reason: str = "") -> int:
    """Put reviews in the gold set (their label verified from the text) or take them out; returns how many changed.

    Gold rows are an evaluation set: training never uses them (`reviews.selectors.training_rows`).
    """
    with transaction.atomic():
        reviews = [review for review in _locked(review_ids) if review.is_gold != verified]
        ScrapedReview.objects.filter(pk__in=[r.pk for r in reviews]).update(
            verified_at=timezone.now() if verified else None,
            verified_by=recorded_author(user) if verified else None,
            updated_at=timezone.now(),
        )
        action = Action.VERIFY if verified else Action.UNVERIFY
        return _changes(reviews, action, new_labels={}, user=user, reason=reason)
