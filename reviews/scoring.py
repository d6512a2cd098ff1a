"""How a visitor's review gets its server-side score and suggested rating.

The served model belongs to `ml`, which sits above reviews (it reads reviews to train), so reviews
does not import it: `ml` registers its scorer here when it loads (`MlConfig.ready`), as apps add
their readiness checks to `core.health`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class ReviewScore:
    """What the server's model made of a review's text (all empty for blank text)."""

    score: float | None
    suggested_rating: int | None
    probabilities: dict[str, float] = field(default_factory=dict)
    model_name: str = ""
    model_version_id: int | None = None


ReviewScorer = Callable[[str], ReviewScore]

_scorer: ReviewScorer | None = None


def review_scorer_register(scorer: ReviewScorer) -> None:
    """Make `scorer` the one that scores visitors' reviews (the `ml` app registers the served model)."""
    global _scorer
    _scorer = scorer


def review_score(text: str) -> ReviewScore:
    """Score a review's text with the registered scorer."""
    if _scorer is None:
        raise ImproperlyConfigured("No review scorer is registered: the `ml` app must be in INSTALLED_APPS.")
    return _scorer(text)
