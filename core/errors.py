"""The one root of the errors Starling's services raise on purpose: a message for people, a code, a field.

Every entry point maps these the same way: the API answers the error body of `core.api_errors` with
the error's status, the admin shows the message, a command prints it and exits non-zero. Anything
that is not a `StarlingError` is a bug and gets the framework's own 500 handling.
"""

from __future__ import annotations

import json


class StarlingError(Exception):
    """An error the user can act on: `message` says what was wrong and what to do."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field

    def __str__(self) -> str:
        return self.message


class ServiceUnavailable(StarlingError):
    """A backing service (the job queue's Redis) is down, so the work was not started."""

    status = 503
    code = "service_unavailable"


class Throttled(StarlingError):
    """The client used up its budget (reviews, sign-ins, scores): it may try again in `retry_after` seconds."""

    status = 429
    code = "throttled"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def error_body(*, status: int, code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    """The error object every API error answers with (see `core.api_errors`)."""
    return {"error": {"status": status, "code": code, "message": message, "fields": fields or {}}}


def error_json(*, status: int, code: str, message: str) -> bytes:
    """`error_body` encoded, for emitters below Django (the ASGI body limit)."""
    return json.dumps(error_body(status=status, code=code, message=message)).encode()
