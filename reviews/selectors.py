"""Reads of reviews: visitors' visible reviews (the one definition of what the site shows) and scraped ones."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce

from brands.models import Company
from reviews.labels import stars_to_label
from reviews.models import ScrapedReview, UserReview


def user_reviews_visible(*, company: Company | None = None, stars: int | None = None) -> QuerySet[UserReview]:
    """Visitor reviews that are not hidden, newest first: every brand's or one `company`'s, optionally one star rating.

    What the brand page, the reviews API and the brand aggregates count as a visitor's review on the site.
    """
    reviews = UserReview.objects.filter(status=UserReview.Status.VISIBLE)
    if company is not None:
        reviews = reviews.filter(company=company)
    if stars is not None:
        reviews = reviews.filter(rating=stars)
    return reviews.order_by("-created_at", "-id")


def scraped_reviews_with_stars(*, company: Company, stars: int | None = None) -> QuerySet[ScrapedReview]:
    """A brand's collected reviews that carry stars, newest first, optionally with one star rating."""
    reviews = ScrapedReview.objects.filter(company=company, stars__isnull=False)
    if stars is not None:
        reviews = reviews.filter(stars=stars)
    return reviews.order_by(F("published_at").desc(nulls_last=True), "-id").only(
        "id",
        "stars",
        "title",
        "text",
        "published_at",
        "experienced_at",
        "author_name",
        "author_country",
        "source",
        "company_id",
    )


def effective_label() -> Coalesce:
    """The label training uses, as a query expression: staff's correction, else the collected label."""
    return Coalesce("corrected_label", "label")


def scraped_reviews_in_dataset(*, language: str) -> QuerySet[ScrapedReview]:
    """Scraped reviews a model may train on: not excluded, not in the gold set, in one language.

    "" keeps every language; rows with no language (imported ones) are always kept.
    """
    reviews = ScrapedReview.objects.filter(excluded=False, verified_at__isnull=True)
    if language:
        code = language.strip().lower()
        reviews = reviews.filter(Q(language="") | Q(language__iexact=code) | Q(language__istartswith=f"{code}-"))
    return reviews


def user_reviews_in_dataset() -> QuerySet[UserReview]:
    """Visitors' reviews that may join the dataset: shown on the site, with a rating the visitor picked.

    A rating accepted from the suggestion would teach the model its own guess, so those stay out;
    so do reviews staff hid, and those stored before the form recorded how the rating was given.
    """
    return user_reviews_visible().filter(rating_source=UserReview.RatingSource.PICKED)


def training_rows(*, language: str, include_user_reviews: bool) -> list[tuple[str, str, str]]:
    """(row id, text, label) of every labelled review a model may train on, in a stable order.

    Scraped reviews in the dataset (`s<pk>`, see `scraped_reviews_in_dataset`) with their effective
    label; then, if asked, visitors' reviews in the dataset (`u<pk>`) labelled by the rating they picked.
    """
    return list(training_rows_streamed(language=language, include_user_reviews=include_user_reviews))


def training_rows_streamed(
    *, language: str, include_user_reviews: bool, chunk_size: int = 2000
) -> Iterator[tuple[str, str, str]]:
    """`training_rows`, read from the database `chunk_size` rows at a time (exports: never the whole table)."""
    reviews = (
        scraped_reviews_in_dataset(language=language)
        .annotate(training_label=effective_label())
        .order_by("pk")
        .values_list("pk", "text", "training_label")
    )
    for pk, text, label in reviews.iterator(chunk_size=chunk_size):
        yield f"s{pk}", text, label
    if include_user_reviews:
        picked = user_reviews_in_dataset().order_by("pk").values_list("pk", "text", "rating")
        for pk, text, rating in picked.iterator(chunk_size=chunk_size):
            yield f"u{pk}", text, stars_to_label(rating)


def row_review_ids(row_id: str) -> dict[str, int | None]:
    """The review a training row id names (`s<pk>` a scraped review, `u<pk>` a visitor's), as foreign-key fields."""
    pk = int(row_id[1:])
    if row_id[0] == "s":
        return {"scraped_review_id": pk, "user_review_id": None}
    return {"scraped_review_id": None, "user_review_id": pk}


def gold_rows() -> list[tuple[str, str, str]]:
    """(row id, text, label) of the gold set: scraped reviews staff verified from their text, not excluded."""
    reviews = ScrapedReview.objects.filter(verified_at__isnull=False, excluded=False).annotate(
        gold_label=effective_label()
    )
    return [
        (f"s{pk}", text, label) for pk, text, label in reviews.order_by("pk").values_list("pk", "text", "gold_label")
    ]
