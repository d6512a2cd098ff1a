"""Reads of reviews: visitors' visible reviews (the one definition of what the site shows) and scraped ones."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet

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
        "id", "stars", "title", "text", "published_at", "author_name", "author_country", "source", "company_id"
    )


def training_rows(*, language: str, include_user_reviews: bool) -> list[tuple[str, str, str]]:
    """(row id, text, label) of every labelled review a model may train on, in a stable order.

    Scraped reviews staff have not excluded (`s<pk>`), in one language ("" keeps every language; rows
    with no language, such as imported ones, are always kept); then, if asked, visitors' visible
    reviews labelled by the rating they chose (`u<pk>`).
    """
    reviews = ScrapedReview.objects.filter(excluded=False)
    if language:
        code = language.strip().lower()
        reviews = reviews.filter(Q(language="") | Q(language__iexact=code) | Q(language__istartswith=f"{code}-"))
    rows = [(f"s{pk}", text, label) for pk, text, label in reviews.order_by("pk").values_list("pk", "text", "label")]
    if include_user_reviews:
        visible = user_reviews_visible().order_by("pk").values_list("pk", "text", "rating")
        rows += [(f"u{pk}", text, stars_to_label(rating)) for pk, text, rating in visible]
    return rows
