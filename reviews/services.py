"""Writes to reviews: the one place a visitor's review is created, hidden or shown, dataset flags, and the
brand aggregates those reviews feed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Avg, Count
from django.utils import timezone

from brands.models import STAR_FIELDS, Company
from core.authors import recorded_author
from core.errors import Throttled
from core.privacy import hash_ip
from core.rate_limits import rate_limit_take, scope_rate
from reviews.models import ScrapedReview, UserReview
from reviews.scoring import review_score
from reviews.selectors import user_reviews_visible


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


def review_details_clean(*, display_name: str, title: str, experienced_on: date | None) -> dict:
    """The optional parts of a review, stripped and checked: a display name, a title, the date of experience."""
    details = {
        "display_name": (display_name or "").replace("\x00", "").strip(),
        "title": (title or "").replace("\x00", "").strip(),
    }
    for field, value in details.items():
        limit = UserReview._meta.get_field(field).max_length
        if len(value) > limit:
            raise ValidationError({field: f"Keep it to {limit} characters (this is {len(value)})."})
    if experienced_on is not None and experienced_on > timezone.localdate():
        raise ValidationError({"experienced_on": "The date of your experience cannot be in the future."})
    return {**details, "experienced_on": experienced_on}


def user_review_create(
    *,
    company: Company,
    text: str,
    rating: int,
    rating_source: str = UserReview.RatingSource.PICKED,
    display_name: str = "",
    title: str = "",
    experienced_on: date | None = None,
    ip: str | None = None,
    user_agent: str = "",
    user=None,
    submission_key: str | None = None,
) -> UserReview:
    """Score the text on the server (`reviews.scoring`), store the visitor's review and update the brand's aggregates.

    With a `submission_key` (one per rendered form), sending the same submission again returns the
    review already stored instead of storing a second one; the database's unique key decides races.
    """
    if submission_key and (existing := UserReview.objects.filter(submission_key=submission_key).first()):
        return existing
    cleaned = review_text_clean(text)
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise ValidationError({"rating": "Choose a rating from 1 to 5 stars."})
    if rating_source not in UserReview.RatingSource.values:
        raise ValidationError({"rating_source": f"rating_source must be one of {UserReview.RatingSource.values}."})
    details = review_details_clean(display_name=display_name, title=title, experienced_on=experienced_on)
    if not company.is_active:
        raise ValidationError({"brand": "This brand is not open for reviews."})
    # One review budget per client address for every route that writes reviews (form, API, ...).
    if ip is not None and (wait := rate_limit_take("review_create", hash_ip(ip), scope_rate("review_create"))):
        raise Throttled(f"Too many reviews from your address: try again in {int(wait)} seconds.", retry_after=wait)
    scored = review_score(cleaned)
    try:
        with transaction.atomic():
            review = UserReview.objects.create(
                company=company,
                text=cleaned,
                rating=rating,
                rating_source=rating_source,
                **details,
                suggested_rating=scored.suggested_rating,
                score=scored.score,
                probabilities=scored.probabilities,
                model_version_id=scored.model_version_id,
                model_name=scored.model_name,
                user=recorded_author(user),
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


def company_refresh_aggregates(company_ids: Iterable[int]) -> None:
    """Recompute brands' review counts, star distribution, average stars and mean sentiment from their reviews.

    Counts scraped reviews that carry stars and visible visitor reviews. The company rows are locked
    first, so concurrent writers serialise per company and the last one to commit sees every review.
    """
    ids = sorted(set(company_ids))
    if not ids:
        return
    with transaction.atomic():
        list(Company.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))
        counts: dict[int, dict[int, int]] = {pk: dict.fromkeys(range(1, 6), 0) for pk in ids}
        visible = user_reviews_visible().filter(company_id__in=ids)
        scraped = (
            ScrapedReview.objects.filter(company_id__in=ids, stars__isnull=False)
            .values_list("company_id", "stars")
            .annotate(n=Count("id"))
            .order_by()
        )
        visitors = visible.values_list("company_id", "rating").annotate(n=Count("id")).order_by()
        for company_id, stars, n in [*scraped, *visitors]:
            counts[company_id][stars] += n
        sentiment = {
            row["company_id"]: row
            for row in visible.values("company_id").annotate(n=Count("id"), mean=Avg("score")).order_by()
        }
        for company_id, by_star in counts.items():
            total = sum(by_star.values())
            average = sum(star * n for star, n in by_star.items()) / total if total else None
            row = sentiment.get(company_id, {})
            Company.objects.filter(pk=company_id).update(
                review_count=total,
                average_stars=round(average, 4) if average is not None else None,
                user_review_count=row.get("n", 0),
                mean_sentiment=row.get("mean"),
                **{field: by_star[star] for star, field in enumerate(STAR_FIELDS, start=1)},
            )
