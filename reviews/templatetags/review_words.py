"""Template filters for the words beside stars (`reviews.wording`)."""

from __future__ import annotations

from django import template

from reviews import wording

register = template.Library()


@register.filter
def rating_word(value: float | None) -> str:
    """{{ company.average_stars|rating_word }} → "Great"."""
    return wording.rating_word(value)


@register.filter
def nearest_star(value: float | None) -> int | None:
    """{{ company.average_stars|nearest_star }} → 4 (the band a colour follows)."""
    return wording.nearest_star(value)


@register.filter
def sentiment_word(value: int | None) -> str:
    """{{ review.suggested_rating|sentiment_word }} → "Mostly positive"."""
    return wording.sentiment_word(value)


@register.filter
def star_count(value: int | float | str | None) -> str:
    """{{ review.rating|star_count }} → "1 star" / "4 stars"."""
    if value in (None, ""):
        return ""
    number = float(value)
    return wording.star_count(int(number) if number.is_integer() else round(number, 1))
