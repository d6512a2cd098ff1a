"""Logos drawn locally: an SVG monogram from the brand's name, so no logo is ever hot-linked.

A crawl records the review site's logo address (`Company.source_logo_url`) for staff, but no page
or API answer ever points a browser at it: every logo the site shows is this drawing, served from
`/brands/<slug>/logo.svg`.
"""

from __future__ import annotations

import hashlib
from xml.sax.saxutils import escape

# (top, bottom) of a vertical gradient; white initials (large, bold) stay above 3:1 contrast on every one.
_PALETTE = (
    ("#2563eb", "#1e40af"),
    ("#059669", "#065f46"),
    ("#d97706", "#92400e"),
    ("#7c3aed", "#5b21b6"),
    ("#e11d48", "#9f1239"),
    ("#0891b2", "#155e75"),
    ("#65a30d", "#3f6212"),
    ("#db2777", "#9d174d"),
    ("#475569", "#1e293b"),
    ("#ea580c", "#9a3412"),
    ("#4f46e5", "#3730a3"),
    ("#0d9488", "#115e59"),
)


def monogram_letters(name: str) -> str:
    """Up to two initials: first letters of the first two words, else the first letter of a single word."""
    words = [w for w in "".join(c if c.isalnum() else " " for c in name).split() if w]
    if not words:
        return "?"
    if len(words) == 1:
        return words[0][0].upper()
    return (words[0][0] + words[1][0]).upper()


def monogram_colours(name: str) -> tuple[str, str]:
    """The brand's two colours, chosen stably from its name (the same brand looks the same everywhere)."""
    digest = hashlib.sha256(name.strip().lower().encode("utf-8")).digest()
    return _PALETTE[digest[0] % len(_PALETTE)]


def monogram_svg(name: str, size: int = 96) -> str:
    """An SVG rounded square with the brand's initials on its own gradient."""
    top, bottom = monogram_colours(name)
    letters = escape(monogram_letters(name))
    font = size * (0.4 if len(letters) > 1 else 0.52)
    label = escape(name, {'"': "&quot;"})
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 {size} {size}" '
        f'role="img" aria-label="{label} logo">'
        f'<defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1">'
        f'<stop offset="0" stop-color="{top}"/><stop offset="1" stop-color="{bottom}"/></linearGradient></defs>'
        f'<rect width="{size}" height="{size}" rx="{size // 5}" fill="url(#g)"/>'
        f'<text x="50%" y="50%" dy=".35em" text-anchor="middle" fill="#fff" letter-spacing="-1" '
        f'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" font-weight="800" '
        f'font-size="{font:.0f}">{letters}</text></svg>'
    )
