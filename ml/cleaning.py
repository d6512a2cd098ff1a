"""What any submitted text goes through before a model reads it, and where each kept character came from."""

from __future__ import annotations

import re

import numpy as np
from django.conf import settings

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean_text(text: str | None) -> str:
    """Make any string safe to score: lone surrogates replaced, control characters dropped, cut to the limit."""
    if text is None:
        return ""
    return CONTROL_CHARACTERS.sub("", _cut_and_replaced(text))


def _cut_and_replaced(text: str) -> str:
    """`text` cut to PREDICTION_MAX_CHARS with each lone surrogate replaced by one character."""
    return str(text)[: settings.PREDICTION_MAX_CHARS].encode("utf-8", "replace").decode("utf-8")


def cleaned_with_origin(text: str) -> tuple[str, np.ndarray]:
    """`clean_text(text)` and, for each of its characters, its offset in `text`.

    Cleaning cuts the text, replaces each lone surrogate with one character and drops control
    characters, so the offsets are those of the characters it keeps.
    """
    replaced = _cut_and_replaced(text)
    cleaned = CONTROL_CHARACTERS.sub("", replaced)
    dropped = [match.start() for match in CONTROL_CHARACTERS.finditer(replaced)]
    origin = np.delete(np.arange(len(replaced), dtype=np.int64), dropped)
    if len(origin) != len(cleaned):  # cleaning changed in a way this does not know: no offsets to give
        raise ValueError("cleaned text and offsets disagree")
    return cleaned, origin
