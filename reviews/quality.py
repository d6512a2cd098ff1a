"""Live quality of the served models: the ratings visitors gave against the ratings the model suggested.

One selector, `live_quality`, reads it for every model that served suggestions. The figures follow one
convention, documented here and shown to staff:

- the visitor's rating is the truth and the suggestion the prediction;
- `exact`: share of reviews whose rating equals the suggestion; `within_one`: share at most one star off;
  `mae`: mean absolute difference in stars;
- `macro_f1`: F1 of the suggested label (1-2 bad, 3 average, 4-5 good, `reviews.labels`) against the chosen
  one, averaged over the labels present among either the chosen or the suggested ratings (scikit-learn's
  default): a small window where nobody gave 3 stars is not marked down for a class it never saw;
- `acceptance_rate`: share of "accepted" among reviews whose rating source is known (reviews stored before
  it was recorded have none);
- `picked_*`: the same figures over the reviews the visitor picked themselves. An accepted suggestion agrees
  with itself by construction, so the overall figures rise with the acceptance rate; the picked-only ones
  measure the model against independent judgements.

Hidden reviews are left out (`user_reviews_visible`). The database groups the reviews into counts per
model, period, chosen and suggested rating and source; everything else is computed from those counts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Max, Min
from django.db.models.functions import TruncDay, TruncWeek
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from core.errors import StarlingError
from reviews.labels import stars_to_label
from reviews.models import UserReview
from reviews.selectors import user_reviews_visible

PERIODS = {"day": TruncDay, "week": TruncWeek}
UNNAMED_MODEL = "(unnamed)"  # reviews scored before the model's name was recorded

# (chosen rating, suggested rating, rating source) → number of reviews
Counts = Counter[tuple[int, int, str | None]]


class LiveQualityError(StarlingError):
    """A live-quality filter the reader can correct (a date that does not parse, an unknown period)."""


@dataclass(frozen=True)
class QualityFigures:
    """Agreement between chosen and suggested ratings over a set of reviews; None where nothing was counted."""

    reviews: int
    exact: float | None
    within_one: float | None
    macro_f1: float | None
    mae: float | None
    accepted: int
    picked: int
    acceptance_rate: float | None
    picked_exact: float | None
    picked_within_one: float | None
    picked_macro_f1: float | None
    picked_mae: float | None


@dataclass(frozen=True)
class PeriodQuality(QualityFigures):
    """The figures of one model over one day or week (starting Monday), in the site's time zone."""

    period_start: date


@dataclass(frozen=True)
class ModelQuality(QualityFigures):
    """The figures of one model over the whole window, its first and last review, and its series over time."""

    model: str
    first_review_at: datetime
    last_review_at: datetime
    series: list[PeriodQuality] = field(default_factory=list)


def macro_f1(pairs: Counter[tuple[str, str]]) -> float | None:
    """Macro-F1 of (true label, predicted label) counts over the labels present in either; None for no pairs."""
    present = {label for pair, n in pairs.items() if n for label in pair}
    if not present:
        return None
    scores = []
    for label in present:
        true_positives = pairs[(label, label)]
        true_total = sum(n for (truth, _), n in pairs.items() if truth == label)
        predicted_total = sum(n for (_, predicted), n in pairs.items() if predicted == label)
        # F1 = 2·TP / (2·TP + FP + FN) = 2·TP / (true total + predicted total)
        scores.append(2 * true_positives / (true_total + predicted_total))
    return sum(scores) / len(scores)


def _agreement(counts: Counts) -> tuple[int, float | None, float | None, float | None, float | None]:
    """(reviews, exact, within one, macro-F1, MAE) of a set of counts."""
    total = sum(counts.values())
    if not total:
        return 0, None, None, None, None
    exact = sum(n for (chosen, suggested, _), n in counts.items() if chosen == suggested)
    within_one = sum(n for (chosen, suggested, _), n in counts.items() if abs(chosen - suggested) <= 1)
    stars_off = sum(n * abs(chosen - suggested) for (chosen, suggested, _), n in counts.items())
    labels: Counter[tuple[str, str]] = Counter()
    for (chosen, suggested, _), n in counts.items():
        labels[(stars_to_label(chosen), stars_to_label(suggested))] += n
    return total, exact / total, within_one / total, macro_f1(labels), stars_off / total


def quality_figures(counts: Counts) -> dict:
    """The fields of `QualityFigures` from (chosen, suggested, source) counts."""
    reviews, exact, within_one, f1, mae = _agreement(counts)
    picked_counts = Counter({key: n for key, n in counts.items() if key[2] == UserReview.RatingSource.PICKED})
    picked, picked_exact, picked_within_one, picked_f1, picked_mae = _agreement(picked_counts)
    accepted = sum(n for (_, _, source), n in counts.items() if source == UserReview.RatingSource.ACCEPTED)
    known = accepted + picked
    return {
        "reviews": reviews,
        "exact": exact,
        "within_one": within_one,
        "macro_f1": f1,
        "mae": mae,
        "accepted": accepted,
        "picked": picked,
        "acceptance_rate": accepted / known if known else None,
        "picked_exact": picked_exact,
        "picked_within_one": picked_within_one,
        "picked_macro_f1": picked_f1,
        "picked_mae": picked_mae,
    }


def live_quality(
    *, since: datetime | None = None, until: datetime | None = None, period: str = "week"
) -> list[ModelQuality]:
    """Per model that suggested ratings: the figures over [since, until) and a series per `period` ("day"/"week").

    Models whose latest review is newest come first (the one being served, usually).
    """
    if period not in PERIODS:
        raise LiveQualityError(f"period must be one of: {', '.join(PERIODS)}.", field="period")
    reviews = user_reviews_visible().order_by().filter(suggested_rating__isnull=False)
    if since is not None:
        reviews = reviews.filter(created_at__gte=since)
    if until is not None:
        reviews = reviews.filter(created_at__lt=until)
    groups = (
        reviews.annotate(period_start=PERIODS[period]("created_at"))
        .values("model_name", "period_start", "rating", "suggested_rating", "rating_source")
        .annotate(n=Count("id"), first=Min("created_at"), last=Max("created_at"))
        .values_list("model_name", "period_start", "rating", "suggested_rating", "rating_source", "n", "first", "last")
    )
    totals: dict[str, Counts] = defaultdict(Counter)
    periods: dict[str, dict[date, Counts]] = defaultdict(lambda: defaultdict(Counter))
    first: dict[str, datetime] = {}
    last: dict[str, datetime] = {}
    for name, start, chosen, suggested, source, n, earliest, latest in groups.iterator():
        model = name or UNNAMED_MODEL
        key = (chosen, suggested, source or None)
        totals[model][key] += n
        periods[model][_as_date(start)][key] += n
        first[model] = min(first.get(model, earliest), earliest)
        last[model] = max(last.get(model, latest), latest)
    models = [
        ModelQuality(
            model=model,
            first_review_at=first[model],
            last_review_at=last[model],
            series=[
                PeriodQuality(period_start=start, **quality_figures(periods[model][start]))
                for start in sorted(periods[model])
            ],
            **quality_figures(counts),
        )
        for model, counts in totals.items()
    ]
    return sorted(models, key=lambda quality: (-quality.last_review_at.timestamp(), quality.model))


def _as_date(value: datetime | date) -> date:
    """A truncated period start as a date in the site's time zone (the database may hand back a datetime)."""
    if isinstance(value, datetime):
        return (timezone.localtime(value) if timezone.is_aware(value) else value).date()
    return value


def live_quality_window(
    *, since: str | None = None, until: str | None = None
) -> tuple[datetime | None, datetime | None]:
    """`since`/`until` as typed (ISO dates or date-times) → the moments to count from and up to.

    `since` counts from its moment (a date: from the start of that day); `until` counts up to, not including,
    its moment (a date: to the end of that day, so `?since=2026-01-01&until=2026-01-31` is all of January).
    Date-times without a zone are in the site's time zone.
    """
    start = _moment(since, "since", next_day=False)
    end = _moment(until, "until", next_day=True)
    if start is not None and end is not None and end <= start:
        raise LiveQualityError("until must be later than since.", field="until")
    return start, end


def _moment(text: str | None, name: str, *, next_day: bool) -> datetime | None:
    """One bound as typed → an aware moment; a date is its start (or, with `next_day`, the start of the next)."""
    text = (text or "").strip()
    if not text:
        return None
    problem = f"{name} must be an ISO date (2026-01-31) or date-time (2026-01-31T18:00:00Z), not {text[:40]!r}."
    try:
        day = parse_date(text)
        if day is not None:
            moment = datetime.combine(day + timedelta(days=1) if next_day else day, time.min)
        else:
            moment = parse_datetime(text)
        if moment is not None and timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
    except (ValueError, OverflowError):  # well formed but impossible: 2026-02-30, the day after 9999-12-31
        raise LiveQualityError(problem, field=name) from None
    if moment is None:
        raise LiveQualityError(problem, field=name)
    return moment
