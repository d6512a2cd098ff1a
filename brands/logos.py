"""Logos drawn locally: an SVG monogram from the brand's name, so no logo is ever hot-linked."""

from __future__ import annotations

import hashlib
from xml.sax.saxutils import escape

_PALETTE = ("#1d4ed8", "#047857", "#b45309", "#7c3aed", "#be123c", "#0e7490", "#4d7c0f", "#9d174d", "#334155")


def monogram_letters(name: str) -> str:
    """Up to two initials: first letters of the first two words, else the first two characters."""
    words = [w for w in "".join(c if c.isalnum() else " " for c in name).split() if w]
    if not words:
        return "?"
    if len(words) == 1:
        return words[0][:2].upper()
    return (words[0][0] + words[1][0]).upper()


def monogram_svg(name: str, size: int = 96) -> str:
    """An SVG square with the brand's initials on a colour chosen stably from its name."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    colour = _PALETTE[digest[0] % len(_PALETTE)]
    letters = escape(monogram_letters(name))
    font = size * (0.42 if len(letters) > 1 else 0.5)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 {size} {size}" '
        f'role="img" aria-label="{escape(name, {chr(34): "&quot;"})} logo">'
        f'<rect width="{size}" height="{size}" rx="{size // 6}" fill="{colour}"/>'
        f'<text x="50%" y="50%" dy=".35em" text-anchor="middle" fill="#fff" '
        f'font-family="system-ui, sans-serif" font-weight="700" font-size="{font:.0f}">{letters}</text></svg>'
    )
