"""How visitors treat the suggested rating: kept it, or changed it up or down, and how far on average."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Avg, Count, F, Q, QuerySet
from django.db.models.functions import Abs

KEPT = "kept"
CHANGED_UP = "up"
CHANGED_DOWN = "down"
NO_SUGGESTION = "none"

SUGGESTION_OUTCOMES: dict[str, str] = {
    KEPT: "Kept the suggestion",
    CHANGED_UP: "Changed it up",
    CHANGED_DOWN: "Changed it down",
    NO_SUGGESTION: "No suggestion (blank text)",
}

_CONDITIONS: dict[str, Q] = {
    KEPT: Q(suggested_rating__isnull=False, rating=F("suggested_rating")),
    CHANGED_UP: Q(suggested_rating__isnull=False, rating__gt=F("suggested_rating")),
    CHANGED_DOWN: Q(suggested_rating__isnull=False, rating__lt=F("suggested_rating")),
    NO_SUGGESTION: Q(suggested_rating__isnull=True),
}


def suggestion_outcome_condition(outcome: str) -> Q:
    """The filter for visitor reviews with this outcome (kept / up / down / none)."""
    return _CONDITIONS[outcome]


def suggestion_change(*, rating: int, suggested_rating: int | None) -> int | None:
    """Stars the visitor moved away from the suggestion (+ up, - down), None without a suggestion."""
    return None if suggested_rating is None else rating - suggested_rating


@dataclass(frozen=True)
class SuggestionSummary:
    """Over a set of visitor reviews: how many had a suggestion, how many changed it, by how much."""

    reviews: int
    suggested: int
    changed_up: int
    changed_down: int
    mean_absolute_change: float | None

    @property
    def changed(self) -> int:
        return self.changed_up + self.changed_down

    @property
    def changed_share(self) -> float | None:
        """Share of reviews with a suggestion whose rating differs from it."""
        return self.changed / self.suggested if self.suggested else None


def suggestion_summary(reviews: QuerySet) -> SuggestionSummary:
    """Summarise how the visitors behind these UserReview rows treated the suggestion (one query)."""
    row = reviews.order_by().aggregate(
        reviews=Count("pk"),
        suggested=Count("pk", filter=Q(suggested_rating__isnull=False)),
        changed_up=Count("pk", filter=_CONDITIONS[CHANGED_UP]),
        changed_down=Count("pk", filter=_CONDITIONS[CHANGED_DOWN]),
        mean_absolute_change=Avg(Abs(F("rating") - F("suggested_rating")), filter=Q(suggested_rating__isnull=False)),
    )
    mean = row["mean_absolute_change"]
    return SuggestionSummary(
        reviews=row["reviews"],
        suggested=row["suggested"],
        changed_up=row["changed_up"],
        changed_down=row["changed_down"],
        mean_absolute_change=float(mean) if mean is not None else None,
    )
