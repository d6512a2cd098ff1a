"""Health endpoints for load balancers and Compose: `/healthz` (process up), `/readyz` (can serve).

`/readyz` runs a registry of readiness checks. The base layer registers the database and Redis;
feature apps add their own from their AppConfig.ready() (the served model registers from `ml`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

# A check answers (problem or None, extra fields for the body, e.g. {"model": "fasttext-..."}).
CheckResult = tuple[str | None, dict]


@dataclass(frozen=True)
class ReadinessCheck:
    name: str
    run: Callable[[], CheckResult]
    needs: tuple[str, ...] = ()  # checks that must pass first; when one fails this one is skipped
    fields: tuple[str, ...] = ()  # body fields it fills (null when it is skipped or fails to say)


_checks: dict[str, ReadinessCheck] = {}


def readiness_check_register(
    name: str, run: Callable[[], CheckResult], *, needs: tuple[str, ...] = (), fields: tuple[str, ...] = ()
) -> None:
    """Add (or replace) a check that `/readyz` runs, after the checks it `needs`."""
    _checks[name] = ReadinessCheck(name=name, run=run, needs=needs, fields=fields)


def readiness_check_unregister(name: str) -> None:
    """Stop running the check `name` (if registered)."""
    _checks.pop(name, None)


def check_database() -> CheckResult:
    """The database answers a query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return f"database unavailable: {type(exc).__name__}: {exc}", {}
    return None, {}


def check_redis() -> CheckResult:
    """The job queue's Redis answers PING."""
    import redis

    url = settings.RQ_QUEUES["default"]["URL"]
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
    except Exception as exc:
        return f"redis unavailable at {url}: {type(exc).__name__}: {exc}", {}
    return None, {}


readiness_check_register("database", check_database)
readiness_check_register("redis", check_redis)


def readiness() -> tuple[bool, dict]:
    """Run every registered check in order: (all passed, the body `/readyz` answers)."""
    started = time.perf_counter()
    results: dict[str, str] = {}
    fields: dict[str, object] = {}
    for check in _checks.values():
        fields.update(dict.fromkeys(check.fields))
        blocked = [need for need in check.needs if results.get(need) != "ok"]
        if blocked:
            results[check.name] = f"skipped: needs {', '.join(blocked)}"
            continue
        problem, extra = check.run()
        results[check.name] = problem or "ok"
        fields.update(extra)
    ok = all(result == "ok" for result in results.values())
    body = {
        "status": "ok" if ok else "unavailable",
        "checks": results,
        **fields,
        "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
    }
    return ok, body


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and answering."""
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Every readiness check passes: 200, else 503 naming what fails."""
    ok, body = readiness()
    return JsonResponse(body, status=200 if ok else 503)
