"""Reads of reviews for the brand pages: visitors' visible reviews and scraped ones, by stars."""

from __future__ import annotations

from django.db.models import F, QuerySet

from brands.models import Company
from reviews.models import ScrapedReview, UserReview


def user_reviews_visible(*, company: Company, stars: int | None = None) -> QuerySet[UserReview]:
    """A brand's visitor reviews that are not hidden, newest first, optionally with one star rating."""
    reviews = UserReview.objects.filter(company=company, status=UserReview.Status.VISIBLE)
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
