"""How far one API client can go: page sizes and request rates."""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination
from rest_framework.throttling import BaseThrottle

from core.privacy import client_ip, hash_ip
from core.rate_limits import rate_limit_take, scope_rate

MAX_PAGE_SIZE = 100


class ApiPagination(PageNumberPagination):
    """`?page=N&page_size=M`: M defaults to PAGE_SIZE and is capped at 100."""

    page_size_query_param = "page_size"
    page_size_query_description = f"Results per page, at most {MAX_PAGE_SIZE} (larger values are capped)."
    max_page_size = MAX_PAGE_SIZE


class ScopedThrottle(BaseThrottle):
    """Limits each client address to the rate of the view's `throttle_scope` (DEFAULT_THROTTLE_RATES).

    Counts through `core.rate_limits` (atomic, and per process while Redis is down) rather than DRF's
    history list; keyed on the client's address, like the websocket's share of the same scope. The
    rate is read on every request, so it follows the settings when they change (tests, reloads).
    """

    def allow_request(self, request, view) -> bool:
        """Take one hit from this client's budget in the view's scope; views without a scope are not limited."""
        scope = getattr(view, "throttle_scope", None)
        self.retry_after = None
        if scope:
            self.retry_after = rate_limit_take(scope, hash_ip(client_ip(request)), scope_rate(scope))
        return self.retry_after is None

    def wait(self) -> float | None:
        """Seconds until the client may try again (the Retry-After header)."""
        return self.retry_after
