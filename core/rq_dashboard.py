"""The job queue's dashboard (django-rq) while Redis is down: a page that says so, not a 500.

django-rq serves the dashboard at /admin/django-rq/ (config/urls.py) and, through the admin, at
/admin/django_rq/dashboard/. Every one of its views talks to Redis first; when that fails, staff get
a 503 naming the queue's address (never its password) and saying that jobs resume when it is back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template import engines

from core.health import service_address, without_credentials

logger = logging.getLogger(__name__)

DASHBOARD_PATHS = ("/admin/django-rq/", "/admin/django_rq/")
RETRY_AFTER_SECONDS = 30

_PAGE = engines["django"].from_string(
    """{% extends "admin/base_site.html" %}
{% block title %}Job queue unavailable{% endblock %}
{% block content %}<h1>Job queue unavailable</h1><p>{{ message }}</p>
{% if reason %}<p>Redis answered: <code>{{ reason }}</code></p>{% endif %}{% endblock %}"""
)


def job_queue_addresses() -> str:
    """The job queues' Redis servers, as `scheme://host:port` (several only if queues use different servers)."""
    addresses = dict.fromkeys(service_address(queue["URL"]) for queue in settings.RQ_QUEUES.values())
    return ", ".join(addresses)


def job_queue_unreachable_message() -> str:
    """What staff read on the dashboard while Redis is down."""
    return (
        f"The job queue (Redis) is not reachable at {job_queue_addresses()}; "
        "jobs will resume when it is back. Crawls and training runs cannot be started until then."
    )


class JobQueueDashboardMiddleware:
    """Answers the RQ dashboard's Redis connection errors with a 503 page instead of a 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from redis.exceptions import ConnectionError, TimeoutError

        if not request.path.startswith(DASHBOARD_PATHS) or not isinstance(exception, ConnectionError | TimeoutError):
            return None
        logger.warning("Job queue dashboard %s: Redis is not reachable (%s)", request.path, exception)
        # The dashboard's views are staff-only, so only staff get here; the address is still kept from anyone else.
        staff = request.user.is_authenticated and request.user.is_staff
        context = {
            **admin.site.each_context(request),
            "message": job_queue_unreachable_message() if staff else "The job queue is not reachable.",
            "reason": without_credentials(str(exception)) if staff else "",
        }
        response = HttpResponse(_PAGE.render(context, request), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
