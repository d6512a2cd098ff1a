"""Staff sign-in is rate-limited: after too many failed attempts, the sign-in form answers 429 for a while.

Each sign-in attempt takes one hit from a budget (`core.rate_limits`, scope "sign_in") kept per client
address and user name; a successful sign-in clears it, so only failures add up. The address is the
one every throttle reads (`core.privacy.client_ip`, which honours the trusted proxies), and the name is
read exactly as Django's sign-in form reads it, so `ｏｐｓａｄｍｉｎ` (fullwidth) counts as `opsadmin`.
Both are kept only as salted hashes, so no raw IP is stored or logged (django-axes was considered; it
stores and logs raw IPs). When Redis is down the count goes on in each process instead of stopping.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UsernameField
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

from core.privacy import client_ip, hash_ip
from core.rate_limits import rate_limit_clear, rate_limit_take

LOGIN_PATHS = ("/admin/login/",)
SCOPE = "sign_in"


def sign_in_name(raw: str) -> str:
    """The user name as the sign-in form and the user model read it: stripped, NFKC-normalised."""
    return get_user_model().normalize_username(UsernameField().to_python(raw))


def _ident(request: HttpRequest) -> str:
    """Who is trying which name: hashes of the client's address and of the name (case folded)."""
    name = sign_in_name(request.POST.get("username", ""))
    return f"{hash_ip(client_ip(request))}:{hash_ip(name.lower())}"


def _rate() -> str:
    return f"{settings.LOGIN_FAILURE_LIMIT}/{settings.LOGIN_FAILURE_WINDOW_SECONDS}s"


@receiver(user_logged_in)
def forget_failed_logins(sender, request: HttpRequest | None = None, user=None, **kwargs) -> None:
    """A successful sign-in clears the count of the name it was made with."""
    if request is not None and request.method == "POST":
        rate_limit_clear(SCOPE, _ident(request))


class LoginThrottleMiddleware:
    """Refuses sign-in attempts past LOGIN_FAILURE_LIMIT unsuccessful ones within the window."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path in LOGIN_PATHS:
            wait = rate_limit_take(SCOPE, _ident(request), _rate())
            if wait is not None:
                minutes = math.ceil(wait / 60)
                response = HttpResponse(
                    f"Too many failed sign-in attempts. Try again in {minutes} minutes.",
                    status=429,
                    content_type="text/plain; charset=utf-8",
                )
                response["Retry-After"] = str(int(wait))
                return response
        return self.get_response(request)
