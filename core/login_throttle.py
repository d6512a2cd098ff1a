"""Staff sign-in is rate-limited: after too many failed attempts, the sign-in form answers 429 for a while.

Attempts are counted in the cache under a salted hash of the client's IP and the user name, so no
raw IP is stored or logged (django-axes was considered; it stores and logs raw IPs).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

from core.privacy import client_ip, hash_ip

LOGIN_PATHS = ("/admin/login/",)


def _key(request: HttpRequest, username: str) -> str:
    return f"login-failures:{hash_ip(client_ip(request))}:{hash_ip(username.strip().lower())}"


def _safe(action: Callable[[], object], default: object = None) -> object:
    """Cache errors (Redis down) must never lock staff out or break sign-in."""
    try:
        return action()
    except Exception:
        return default


@receiver(user_login_failed)
def count_failed_login(sender, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
    """Count one failed sign-in for this IP and user name."""
    if request is None:
        return
    key = _key(request, str(credentials.get("username", "")))
    timeout = settings.LOGIN_FAILURE_WINDOW_SECONDS
    if _safe(lambda: cache.add(key, 1, timeout), False) is False:
        _safe(lambda: cache.incr(key))


@receiver(user_logged_in)
def forget_failed_logins(sender, request: HttpRequest | None = None, user=None, **kwargs) -> None:
    """A successful sign-in clears the count."""
    if request is not None and user is not None:
        _safe(lambda: cache.delete(_key(request, user.get_username())))


class LoginThrottleMiddleware:
    """Refuses sign-in attempts once LOGIN_FAILURE_LIMIT failures were seen within the window."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path in LOGIN_PATHS:
            failures = _safe(lambda: cache.get(_key(request, request.POST.get("username", ""))), 0) or 0
            if failures >= settings.LOGIN_FAILURE_LIMIT:
                minutes = max(1, settings.LOGIN_FAILURE_WINDOW_SECONDS // 60)
                response = HttpResponse(
                    f"Too many failed sign-in attempts. Try again in {minutes} minutes.",
                    status=429,
                    content_type="text/plain; charset=utf-8",
                )
                response["Retry-After"] = str(settings.LOGIN_FAILURE_WINDOW_SECONDS)
                return response
        return self.get_response(request)
