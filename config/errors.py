"""When the database is down, visitors get a 503 page (API clients a 503 JSON), never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

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
            response = JsonResponse({"error": {"status": 503, "message": _MESSAGE}}, status=503)
        else:
            response = HttpResponse(render_to_string("503.html", {"message": _MESSAGE}), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


def _is_data_error(exception: DatabaseError) -> bool:
    """SQLite reports some bad queries as OperationalError too; those are bugs, not outages."""
    text = str(exception).lower()
    return "no such table" in text or "no such column" in text or "syntax error" in text
