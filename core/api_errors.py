"""The API's one error format, used by every 4xx (and the 503 for a queue that is down).

    {"error": {"status": 400, "code": "invalid", "message": "text: Ensure ...",
               "fields": {"text": ["Ensure this field has no more than 5000 characters."]}}}

`fields` maps a field name (dotted for nested ones, e.g. `params.max_pages`) to its messages; it is
empty when the error is not about a field. Validation errors raised by services (Django's
`ValidationError`) come out the same way as the serializers' own.
"""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, OpenApiTypes
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

from core.errors import StarlingError, Throttled, error_body

NON_FIELD = "non_field_errors"


class PayloadTooLarge(exceptions.APIException):
    """The request body is over DATA_UPLOAD_MAX_MEMORY_SIZE."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"field" or "parent.child": [messages]}."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if prefix and key == NON_FIELD:
                name = prefix
            flat.update(_flatten(value, name))
        return flat
    if isinstance(detail, list):
        if any(isinstance(item, dict | list) for item in detail):
            flat = {}
            for index, item in enumerate(detail):
                flat.update(_flatten(item, f"{prefix}.{index}" if prefix else str(index)))
            return flat
        return {prefix or NON_FIELD: [str(item) for item in detail]}
    return {prefix or NON_FIELD: [str(detail)]}


def _validation_message(fields: dict[str, list[str]]) -> str:
    parts = [msgs[0] if name == NON_FIELD else f"{name}: {msgs[0]}" for name, msgs in fields.items() if msgs]
    return " ".join(parts) if parts else "The request is not valid."


def _code_of(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    return exc.default_code


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, with the services' errors mapped, reshaped to the error format."""
    if isinstance(exc, StarlingError):
        return _starling_error_response(exc)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD: exc.messages}
        exc = exceptions.ValidationError(detail=detail)
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge(f"The request body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.")
    response = exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500 handling and logging take over
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        message, code = _validation_message(fields), "invalid"
    else:
        fields = {}
        detail = getattr(exc, "detail", None)
        message = str(detail) if detail is not None else str(exc)
        code = _code_of(exc) if isinstance(exc, exceptions.APIException) else "error"
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            message = f"Too many requests: try again in {int(exc.wait)} seconds."
    response.data = error_body(status=response.status_code, code=code, message=message, fields=fields)
    return response


def _starling_error_response(exc: StarlingError) -> Response:
    """A service's own error: its status, code and message, and its field when it names one."""
    set_rollback()
    fields = {exc.field: [exc.message]} if exc.field else {}
    body = error_body(status=exc.status, code=exc.code, message=exc.message, fields=fields)
    headers = {"Retry-After": str(math.ceil(exc.retry_after))} if isinstance(exc, Throttled) else None
    return Response(body, status=exc.status, headers=headers)


@csrf_exempt  # a 404 changes nothing, so a POST to a wrong address gets the JSON answer, not a CSRF page
def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """A JSON 404 for any address under /api/ that no endpoint answers, with a hint for a missing slash."""
    message = f"No API endpoint at {request.path}."
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            message += f" Did you mean {request.path}/ (with the trailing slash)?"
    body = error_body(status=404, code="not_found", message=message)
    return JsonResponse(body, status=404)


# --- The format as the OpenAPI schema shows it ---------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    status = serializers.IntegerField(help_text="The HTTP status code, repeated.")
    code = serializers.CharField(help_text="A short machine-readable reason, e.g. invalid, not_found, throttled.")
    message = serializers.CharField(help_text="What went wrong and what to do, for people.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages by field name (dotted for nested fields); empty unless the error is about fields.",
    )


class ErrorSerializer(serializers.Serializer):
    """Every error answer: one `error` object."""

    error = ErrorDetailSerializer()


_DESCRIPTIONS = {
    400: "Invalid input: `fields` says which field and why.",
    401: "Not authenticated (token authentication).",
    403: "Not allowed: log in as staff, or a missing CSRF token for session authentication.",
    404: "Not found.",
    405: "Method not allowed.",
    406: "Not acceptable: this API answers JSON.",
    413: "The request body is too large.",
    415: "Unsupported media type: send JSON.",
    429: "Too many requests: wait the number of seconds in the Retry-After header.",
    503: "The job queue (Redis) is unavailable, so the work was not started; nothing was queued.",
}

RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    location=OpenApiParameter.HEADER,
    response=[429],
    description="Seconds to wait before trying again.",
)


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Schema entries for the error answers an endpoint can give, e.g. `error_responses(400, 429)`."""
    return {code: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS[code]) for code in codes}
