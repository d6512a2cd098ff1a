"""Visitors' IP addresses: read from one place (`client_ip`), kept only as a salted hash (`hash_ip`)."""

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


def client_ip(request) -> str | None:
    """The visitor's address: the socket's, or behind TRUSTED_PROXIES proxies the one they name."""
    return _address_behind_proxies(request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR"))


def scope_client_ip(scope: dict) -> str | None:
    """`client_ip` for an ASGI scope (a websocket): the same trusted-proxy rule over the scope's client and headers."""
    client = scope.get("client")
    headers = scope.get("headers", [])
    forwarded = [value.decode("latin-1") for name, value in headers if name.lower() == b"x-forwarded-for"]
    # Several X-Forwarded-For headers read as one list, as Django joins them into META.
    return _address_behind_proxies(client[0] if client else None, ",".join(forwarded) or None)


def _address_behind_proxies(remote: str | None, forwarded: str | None) -> str | None:
    """The client of a connection from `remote` that carried `forwarded` (X-Forwarded-For).

    X-Forwarded-For is read only as far as the trusted proxies reach: with N of them, the N-th
    address from the right is the client (anything further left is the client's own claim).
    """
    proxies = settings.TRUSTED_PROXIES
    if not proxies or not forwarded:
        return remote
    addresses = [address.strip() for address in forwarded.split(",")]
    return addresses[-min(proxies, len(addresses))] or remote
