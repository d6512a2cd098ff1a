"""How far one API client can go: page sizes and request rates."""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

from core.privacy import client_ip, hash_ip

MAX_PAGE_SIZE = 100


class ApiPagination(PageNumberPagination):
    """`?page=N&page_size=M`: M defaults to PAGE_SIZE and is capped at 100."""

    page_size_query_param = "page_size"
    page_size_query_description = f"Results per page, at most {MAX_PAGE_SIZE} (larger values are capped)."
    max_page_size = MAX_PAGE_SIZE


class ScopedThrottle(ScopedRateThrottle):
    """Limits each client (a user, else an IP) to the rate of the view's `throttle_scope`.

    Unlike DRF's class it reads DEFAULT_THROTTLE_RATES on every request, so the rate follows the
    settings even when they change after start-up (tests, reloads).
    """

    def get_rate(self) -> str | None:
        """The configured rate of this scope, e.g. "30/min"; None means no limit."""
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request) -> str:
        """The client's IP as a salted hash: the cache key must not hold a raw IP."""
        return hash_ip(client_ip(request))
