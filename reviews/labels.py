"""The one mapping from stars to sentiment labels: 1-2 bad, 3 average, 4-5 good."""

from __future__ import annotations

LABELS: tuple[str, ...] = ("bad", "average", "good")
STAR_LABELS: dict[int, str] = {1: "bad", 2: "bad", 3: "average", 4: "good", 5: "good"}
LABEL_STARS: dict[str, tuple[int, ...]] = {
    label: tuple(star for star, name in STAR_LABELS.items() if name == label) for label in LABELS
}


def stars_to_label(stars: int) -> str:
    """Map a 1-5 star rating to `bad`, `average` or `good`; raise ValueError outside 1-5."""
    if isinstance(stars, bool) or not isinstance(stars, int | str):
        raise ValueError(f"stars must be an integer from 1 to 5, got {stars!r}")
    try:
        return STAR_LABELS[int(stars)]
    except (KeyError, ValueError):
        raise ValueError(f"stars must be an integer from 1 to 5, got {stars!r}") from None
