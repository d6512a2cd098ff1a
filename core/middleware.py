"""The site's own middleware: security headers, the NUL guard, and a 503 when the database is down.

Pages load scripts and styles only from this site; no inline scripts anywhere. The admin keeps
inline *styles* (its templates use style attributes), never inline scripts. API errors use the one
error body of `core.errors`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.template.loader import render_to_string

from core.errors import error_body

logger = logging.getLogger(__name__)

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
                return JsonResponse(error_body(status=400, code="invalid", message=self.MESSAGE), status=400)
            return HttpResponseBadRequest(self.MESSAGE, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


RETRY_AFTER_SECONDS = 30
_MESSAGE = "Starling is temporarily unavailable: its database cannot be reached. Please try again in a minute."


class DatabaseUnavailableMiddleware:
    """Turns a lost database connection into a 503 with Retry-After."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError) or _is_data_error(exception):
            return None
        logger.error("Database unavailable on %s %s: %s", request.method, request.path, exception)
        if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
            body = error_body(status=503, code="database_unavailable", message=_MESSAGE)
            response = JsonResponse(body, status=503)
        else:
            response = HttpResponse(render_to_string("503.html", {"message": _MESSAGE}), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


def _is_data_error(exception: DatabaseError) -> bool:
    """SQLite reports some bad queries as OperationalError too; those are bugs, not outages."""
    text = str(exception).lower()
    return "no such table" in text or "no such column" in text or "syntax error" in text
