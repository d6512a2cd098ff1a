"""Health endpoints for load balancers and Compose: `/healthz` (process up), `/readyz` (can serve)."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache


def check_database() -> str | None:
    """None when the database answers, else what went wrong."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return f"database unavailable: {type(exc).__name__}: {exc}"
    return None


def check_redis() -> str | None:
    """None when the job queue's Redis answers PING, else what went wrong."""
    import redis

    url = settings.RQ_QUEUES["default"]["URL"]
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
    except Exception as exc:
        return f"redis unavailable at {url}: {type(exc).__name__}: {exc}"
    return None


def check_model() -> tuple[str | None, str | None]:
    """(model name, problem): the served model answers, and it is the active version when one is set."""
    from ml.inference import predict
    from ml.models import ModelVersion

    try:
        name = predict("Starling readiness check")["model"]
        active = ModelVersion.objects.filter(is_active=True).values_list("name", flat=True).first()
    except Exception as exc:
        return None, f"model unavailable: {type(exc).__name__}: {exc}"
    if active and name != active:
        return name, f"active model {active} is not loaded (serving {name})"
    return name, None


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and answering."""
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Database, Redis and the served model all work: 200, else 503 naming what fails."""
    started = time.perf_counter()
    problems: dict[str, str] = {}
    if problem := check_database():
        problems["database"] = problem
    if problem := check_redis():
        problems["redis"] = problem
    model = None
    if "database" not in problems:
        model, problem = check_model()
        if problem:
            problems["model"] = problem
    body = {
        "status": "unavailable" if problems else "ok",
        "checks": {name: problems.get(name, "ok") for name in ("database", "redis", "model")},
        "model": model,
        "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
    }
    return JsonResponse(body, status=503 if problems else 200)
