"""The cold-start model: VADER's lexicon, used until a trained model is activated."""

from __future__ import annotations

from functools import lru_cache

NAME = "lexicon-vader"


@lru_cache(maxsize=1)
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def lexicon_scores(text: str) -> dict[str, float]:
    """VADER's scores: compound in [-1, 1]; pos, neg, neu shares."""
    return _analyzer().polarity_scores(text)


def lexicon_probabilities(text: str) -> dict[str, float]:
    """Class probabilities from VADER's compound score.

    The compound score c in [-1, 1] gives s = (c + 1) / 2; the classes get (1-s)², 2s(1-s), s², a
    distribution whose expected sentiment P(good) + 0.5·P(average) is exactly s.
    """
    compound = lexicon_scores(text)["compound"]
    s = (compound + 1.0) / 2.0
    return {"bad": (1 - s) ** 2, "average": 2 * s * (1 - s), "good": s**2}
