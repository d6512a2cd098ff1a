"""Visitors' IP addresses are kept only as a salted hash, enough to spot abuse and nothing more."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings


def _salt() -> bytes:
    explicit = settings.IP_HASH_SALT
    if explicit:
        return explicit.encode()
    return hmac.new(settings.SECRET_KEY.encode(), b"starling-ip-hash", hashlib.sha256).digest()


def hash_ip(ip: str | None) -> str:
    """Salted SHA-256 of an IP address (hex); empty when the IP is unknown."""
    if not ip:
        return ""
    return hmac.new(_salt(), ip.strip().encode(), hashlib.sha256).hexdigest()
