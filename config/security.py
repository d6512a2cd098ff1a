"""Response headers Django 5.2 does not set itself: a strict Content-Security-Policy and Permissions-Policy.

Pages load scripts and styles only from this site; no inline scripts anywhere. The admin keeps
inline *styles* (its templates use style attributes), never inline scripts.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

_BASE = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
_RELAXED_STYLE_PREFIXES = ("/admin/", "/api/docs/")


def content_security_policy(path: str) -> str:
    """The policy for a request path."""
    directives = dict(_BASE)
    if path.startswith(_RELAXED_STYLE_PREFIXES):
        directives["style-src"] = "'self' 'unsafe-inline'"
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class SecurityHeadersMiddleware:
    """Adds Content-Security-Policy and Permissions-Policy to every response that lacks them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", content_security_policy(request.path))
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        return response


class NullCharacterGuard:
    """Refuses query strings holding NUL characters with a 400: no database stores them (PostgreSQL
    raises on them), so they are never valid search or filter input."""

    MESSAGE = "The address contains a NUL character (%00), which is not allowed."

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or any("\x00" in key or "\x00" in value for key, value in request.GET.items()):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"error": {"status": 400, "code": "invalid", "message": self.MESSAGE, "fields": {}}}, status=400
                )
            return HttpResponseBadRequest(self.MESSAGE, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
