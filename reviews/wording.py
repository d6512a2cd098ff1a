"""The words the site puts beside stars: one word per star for a rating and for the sentiment of a text.

Both scales have five steps that line up with the 1-5 stars, so a text suggested 2★ reads "Mostly negative"
in the colour of 2★, and a brand averaging 4.2★ reads "Great". Pages, the review form's script (through a
data attribute) and tests read them from here.
"""

from __future__ import annotations

RATING_WORDS: dict[int, str] = {1: "Bad", 2: "Poor", 3: "Average", 4: "Great", 5: "Excellent"}
SENTIMENT_WORDS: dict[int, str] = {
    1: "Negative",
    2: "Mostly negative",
    3: "Mixed",
    4: "Mostly positive",
    5: "Positive",
}


def nearest_star(value: float | None) -> int | None:
    """The whole star nearest to an average (halves round up), None without one."""
    if value is None:
        return None
    return min(5, max(1, int(float(value) + 0.5)))


def rating_word(value: float | None) -> str:
    """The word for a rating or an average of ratings ("Great" for 4.2), empty without one."""
    star = nearest_star(value)
    return RATING_WORDS[star] if star else ""


def sentiment_word(suggested_rating: int | None) -> str:
    """The word for the sentiment behind a suggested rating ("Mostly negative" for 2), empty without one."""
    return SENTIMENT_WORDS.get(suggested_rating or 0, "")


def star_count(stars: int | float) -> str:
    """ "1 star", "4 stars", "4.5 stars": what a screen reader hears."""
    number = f"{stars:g}" if isinstance(stars, float) else str(stars)
    return f"{number} star" if number == "1" else f"{number} stars"
