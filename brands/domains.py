"""How a company's domain is normalised, so one brand is one row whatever URL names it."""

from __future__ import annotations

from urllib.parse import urlsplit


def normalize_domain(value: str) -> str:
    """Reduce a URL or host name to a lower-case host without scheme, port, path or leading `www.`.

    >>> normalize_domain("https://WWW.Example.com:443/review?x=1")
    'example.com'
    """
    text = (value or "").strip().lower()
    if not text:
        return ""
    if "://" not in text:
        text = "//" + text
    host = urlsplit(text).hostname or ""
    host = host.strip(".")
    if host.startswith("www."):
        host = host[4:]
    return host
