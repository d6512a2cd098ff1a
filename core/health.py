"""Health endpoints for load balancers and Compose: `/healthz` (process up), `/readyz` (can serve).

`/readyz` runs a registry of readiness checks. The base layer registers the database and Redis;
feature apps add their own from their AppConfig.ready() (the served model registers from `ml`).
Anyone may ask, so the public answer names each check with ok, fail or skipped and nothing more;
signed-in staff also get the reasons, with user names and passwords taken out of any address.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

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


def service_address(url: str) -> str:
    """`scheme://host:port` of a service's URL: no user name, password, database or options."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}"


_URL_CREDENTIALS = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)[^\s/@]*@", re.IGNORECASE)
_PASSWORD_OPTION = re.compile(r"(?P<name>\bpassword=)[^&\s]*", re.IGNORECASE)


def without_credentials(text: str) -> str:
    """`text` with the user name and password taken out of every URL in it (`redis://:secret@h` → `redis://h`)."""
    return _PASSWORD_OPTION.sub(r"\g<name>***", _URL_CREDENTIALS.sub(r"\g<scheme>", text))


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
        return f"redis unavailable at {service_address(url)}: {type(exc).__name__}: {exc}", {}
    return None, {}


readiness_check_register("database", check_database)
readiness_check_register("redis", check_redis)


def readiness() -> tuple[bool, dict]:
    """Run every registered check in order: (all passed, the body `/readyz` answers staff, with the reasons)."""
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
        results[check.name] = without_credentials(problem) if problem else "ok"
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


def _public_outcome(result: str) -> str:
    if result == "ok":
        return "ok"
    return "skipped" if result.startswith("skipped") else "fail"


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Every readiness check passes: 200, else 503 naming what fails (and why, for signed-in staff)."""
    ok, body = readiness()
    if not (request.user.is_authenticated and request.user.is_staff):
        body["checks"] = {name: _public_outcome(result) for name, result in body["checks"].items()}
    return JsonResponse(body, status=200 if ok else 503)
