"""The cold-start model: VADER's lexicon, used until a trained model is activated."""

from __future__ import annotations

from functools import lru_cache

NAME = "lexicon-vader"


def _neighbours(words: list[str], i: int) -> tuple[list[str], int]:
    """The words at offsets -3..+2 around i and i's place among them, indexed exactly as the whole list.

    VADER's negation and idiom checks lower-case the whole word list on every call (once per
    sentiment word: quadratic in the text) to read at most the words from i-3 to i+2 and compare
    the list's length with i+1 and i+2. Six words answer the same reads and the same length tests
    when i >= 3; below that a read can wrap to the end of the list, so those few calls get it whole.
    """
    return (words[i - 3 : i + 3], 3) if i >= 3 else (words, i)


@lru_cache(maxsize=1)
def lexicon_analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    class Analyzer(SentimentIntensityAnalyzer):
        """VADER with the same scores, linear in the text (see `_neighbours`)."""

        @staticmethod
        def _negation_check(valence, words_and_emoticons, start_i, i):
            window, at = _neighbours(words_and_emoticons, i)
            return SentimentIntensityAnalyzer._negation_check(valence, window, start_i, at)

        @staticmethod
        def _special_idioms_check(valence, words_and_emoticons, i):
            window, at = _neighbours(words_and_emoticons, i)
            return SentimentIntensityAnalyzer._special_idioms_check(valence, window, at)

    return Analyzer()


def lexicon_scores(text: str) -> dict[str, float]:
    """VADER's scores: compound in [-1, 1]; pos, neg, neu shares."""
    return lexicon_analyzer().polarity_scores(text)


def lexicon_probabilities(text: str) -> dict[str, float]:
    """Class probabilities from VADER's compound score.

    The compound score c in [-1, 1] gives s = (c + 1) / 2; the classes get (1-s)², 2s(1-s), s², a
    distribution whose expected sentiment P(good) + 0.5·P(average) is exactly s.
    """
    compound = lexicon_scores(text)["compound"]
    s = (compound + 1.0) / 2.0
    return {"bad": (1 - s) ** 2, "average": 2 * s * (1 - s), "good": s**2}
