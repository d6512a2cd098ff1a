"""Request budgets: how many hits a client may take from a scope in a window, counted atomically.

Every throttle (the API's, the review budget, sign-in, the live-scoring websocket) counts through
`rate_limit_take`. A budget is a fixed window that opens with the client's first hit: the count lives
in a cache entry that expires with the window, and a hit is one atomic increment, so concurrent
requests can never both see "one left" (DRF's own throttles read a history list, append, and write it back,
which loses hits under concurrency).

Where the counts live: with django-redis as the cache, in that Redis (shared by every process), in
one MULTI/EXEC transaction; with any other cache backend, through the cache's own `add`/`incr`
(atomic in the in-process cache). When Redis cannot be reached the budget falls back to a counter in
this process with the same rate: a Redis outage makes limits per process, never absent.
"""

from __future__ import annotations

import logging
import math
import re
import time

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache

logger = logging.getLogger(__name__)

# DRF's rate format ("30/min", "10/s", "1000/day"), plus an optional period count ("5/900s", "5/15min").
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])[a-z]*\s*$")
_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# Used only while Redis is unreachable; large enough that culling does not forget live counts.
_fallback = LocMemCache("starling-rate-limits", {"OPTIONS": {"MAX_ENTRIES": 100_000}})


def rate_parse(rate: str) -> tuple[int, int]:
    """A rate such as "30/min" as (hits allowed, window in seconds); ValueError when it is not one."""
    match = _RATE.match(rate or "")
    if match is None:
        raise ValueError(f"Not a rate: {rate!r} (write it as hits/period, e.g. 30/min, 10/s, 5/15min).")
    hits, count, unit = match.groups()
    return int(hits), int(count or 1) * _PERIOD_SECONDS[unit]


def scope_rate(scope: str) -> str | None:
    """The configured rate of a throttle scope (REST_FRAMEWORK's DEFAULT_THROTTLE_RATES); None: no limit."""
    return settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}).get(scope)


def rate_limit_take(scope: str, ident: str, rate: str | None, cost: int = 1) -> float | None:
    """Take `cost` hits from `ident`'s budget in `scope`: None when allowed, else seconds until it may try again.

    `ident` names the client (a hashed address, never a raw one). A `rate` of None means no limit.
    Refused hits count too, but never extend the window.
    """
    if rate is None:
        return None
    limit, window = rate_parse(rate)
    used, seconds_left = _count(f"throttle_{scope}_{ident}", cost, window)
    if used <= limit:
        return None
    return max(1.0, float(math.ceil(seconds_left)))


def rate_limit_clear(scope: str, ident: str) -> None:
    """Forget `ident`'s hits in `scope` (a successful sign-in clears its failures)."""
    key = f"throttle_{scope}_{ident}"
    _fallback.delete(key)
    client = _redis_client()
    try:
        if client is not None:
            client.delete(cache.make_key(key))
        else:
            cache.delete(key)
    except Exception as exc:  # a cache outage must not break the sign-in that cleared the count
        logger.warning("rate limits: the cache is unreachable (%s); count not cleared there", type(exc).__name__)


def _count(key: str, cost: int, window: int) -> tuple[int, float]:
    """(hits now in the window, seconds left in it) after adding `cost`, wherever the counts can live now."""
    client = _redis_client()
    try:
        if client is not None:
            return _redis_count(client, cache.make_key(key), cost, window)
        return _cache_count(cache, key, cost, window)
    except Exception as exc:  # any cache outage: count in this process rather than let everything through
        _warn_outage(exc)
        return _cache_count(_fallback, key, cost, window)


_last_warning = 0.0


def _warn_outage(exc: Exception) -> None:
    """One log line a minute while the cache is down, not one per request."""
    global _last_warning
    if time.monotonic() - _last_warning > 60:
        _last_warning = time.monotonic()
        logger.warning("rate limits: the cache is unreachable (%s); counting in this process", type(exc).__name__)


def _redis_client():
    """django-redis's raw client (which raises on errors, unlike its cache API), or None for other backends."""
    backend = caches["default"]
    if not type(backend).__module__.startswith("django_redis"):
        return None
    return backend.client.get_client(write=True)


def _redis_count(client, name: str, cost: int, window: int) -> tuple[int, float]:
    """Count in Redis in one MULTI/EXEC transaction: open the window on the first hit, add, read what is left."""
    pipe = client.pipeline(transaction=True)
    pipe.set(name, 0, px=window * 1000, nx=True)
    pipe.incrby(name, cost)
    pipe.pttl(name)
    _opened, used, ttl_ms = pipe.execute()
    return int(used), (ttl_ms if ttl_ms > 0 else window * 1000) / 1000


def _cache_count(store: BaseCache, key: str, cost: int, window: int) -> tuple[int, float]:
    """Count with a Django cache's `add` and `incr` (atomic in the in-process cache, which holds a lock)."""
    for _ in range(3):  # the entry can expire between add and incr: a new window opens then
        now = time.time()
        store.add(f"{key}:ends", now + window, window)
        store.add(key, 0, window)
        try:
            used = store.incr(key, cost)
        except ValueError:
            continue
        ends = store.get(f"{key}:ends") or now + window
        return used, max(0.0, ends - now)
    return cost, float(window)
