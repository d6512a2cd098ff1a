"""What one live-scoring connection, and one address, may use: messages, connections and scored texts.

- `RateLimit`: a connection's token bucket of messages; `Refusals`: how often it was refused lately.
- `ConnectionBudget`: the connections an address holds, counted in Redis across processes.
- `TextBudget`: the address's "predict" budget (shared with `POST /api/predict/`), taken in chunks.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from collections import deque

import redis
from django_redis import get_redis_connection

from core.rate_limits import rate_limit_take, rate_parse

logger = logging.getLogger(__name__)


class RateLimit:
    """A token bucket: `rate` messages a second on average, `burst` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.updated = float(burst), time.monotonic()

    def allow(self) -> bool:
        """Take one token; False when the bucket is empty."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Refusals:
    """Remembers when messages were refused; `record` says whether more than `limit` fell within `window` s."""

    def __init__(self, limit: int, window: float) -> None:
        self.window = window
        self.times: deque[float] = deque(maxlen=limit + 1)

    def record(self) -> bool:
        """Note one refusal; True when this one makes more than `limit` within the window."""
        now = time.monotonic()
        self.times.append(now)
        return len(self.times) == self.times.maxlen and now - self.times[0] <= self.window


class ConnectionBudget:
    """Connections held per address: a Redis sorted set per address shared by every process, else this process.

    Each connection is a member scored with the time it expires; its consumer pushes that time forward
    every HOLD_REFRESH_S, so the connections of a process that died without closing them stop counting
    after HOLD_TTL_S (the safety net a plain counter lacks). Taking a place is one Lua script, so two
    connections racing for the last place cannot both get it. While Redis cannot be reached the
    budget is counted in this process, as `core.rate_limits` does for scored texts.
    """

    HOLD_TTL_S = 90
    HOLD_REFRESH_S = 30
    _TAKE = """
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
        if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
        redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
        redis.call('EXPIRE', KEYS[1], ARGV[5])
        return 1
    """

    def __init__(self) -> None:
        self.local: dict[str, int] = {}

    @staticmethod
    def _client() -> redis.Redis | None:
        """The cache's Redis (as `core.rate_limits` counts in), or None when the cache is not Redis."""
        try:
            return get_redis_connection("default")
        except NotImplementedError:
            return None

    @staticmethod
    def _key(address: str) -> str:
        return f"starling:ws-connections:{address}"

    def take(self, address: str, limit: int) -> str | None:
        """A hold on one of `limit` places of `address` ("redis:<id>" or "local"), or None when all are taken."""
        client, member = self._client(), uuid.uuid4().hex
        if client is not None:
            now = time.time()
            try:
                args = [now, limit, now + self.HOLD_TTL_S, member, self.HOLD_TTL_S]
                return f"redis:{member}" if client.eval(self._TAKE, 1, self._key(address), *args) else None
            except redis.RedisError:
                logger.warning("Redis unreachable: websocket connections are counted in this process")
        if self.local.get(address, 0) >= limit:
            return None
        self.local[address] = self.local.get(address, 0) + 1
        return "local"

    def refresh(self, address: str, hold: str) -> None:
        """Keep a hold alive in Redis (a hold counted in this process needs nothing)."""
        client = self._client()
        if client is None or not hold.startswith("redis:"):
            return
        try:
            client.zadd(self._key(address), {hold.removeprefix("redis:"): time.time() + self.HOLD_TTL_S}, xx=True)
            client.expire(self._key(address), self.HOLD_TTL_S)
        except redis.RedisError:
            pass  # it expires; Redis being down already means holds are counted per process

    def release(self, address: str, hold: str) -> None:
        """Give the place back."""
        if hold == "local":
            self.local[address] -= 1
            if not self.local[address]:
                del self.local[address]
            return
        client = self._client()
        try:
            if client is not None:
                client.zrem(self._key(address), hold.removeprefix("redis:"))
        except redis.RedisError:
            pass  # the hold expires after HOLD_TTL_S


connection_budget = ConnectionBudget()


class TextBudget:
    """An address's "predict" budget (`core.rate_limits`, shared with `POST /api/predict/`), taken in chunks.

    Taking one text at a time would cost a hop to a thread and a Redis round trip per keystroke. So
    this process takes several texts at once from the shared count and hands them out to the
    address's connections here; a chunk doubles while its texts are used up within HOLD_S and halves
    when they are not, up to CHUNK_MAX and never over a 64th of the budget (a budget under 128 a
    window is taken one text at a time, exactly). Texts taken but not used within HOLD_S are given
    up. So an address counts the same in Redis across processes and transports (a refused chunk
    counts whole, as any refused hit).

    A chunk half used up is topped up in the background, so a busy address's texts do not all wait
    for one Redis round trip each time its chunk runs out; what it holds is then at most two chunks,
    and it may be refused up to two 64ths of its budget early (never late).
    """

    CHUNK_MAX = 64
    HOLD_S = 1.0
    MAX_ADDRESSES = 10_000

    def __init__(self) -> None:
        self.held: dict[tuple[str, str], list[float]] = {}  # (address, rate) -> [texts left, taken at, chunk size]
        self.refills: dict[tuple[str, str], asyncio.Lock] = {}  # one trip to the shared count at a time
        self.topping_up: dict[tuple[str, str], asyncio.Task] = {}  # at most one top-up per address at a time

    def _take_held(self, key: tuple[str, str], now: float) -> bool:
        held = self.held.get(key)
        if held is not None and held[0] >= 1 and now - held[1] < self.HOLD_S:
            held[0] -= 1
            if held[2] > 1 and held[0] <= held[2] // 2:
                self._top_up(key)
            return True
        return False

    def _chunk(self, key: tuple[str, str], now: float) -> int:
        """How many texts to take next: twice the last chunk when it was used up in time, else half."""
        held = self.held.get(key)
        if held is None:
            return 1
        used_up = now - held[1] < self.HOLD_S
        largest = min(self.CHUNK_MAX, rate_parse(key[1])[0] // 64)
        return max(1, min(largest, int(held[2]) * 2 if used_up else int(held[2]) // 2))

    def _top_up(self, key: tuple[str, str]) -> None:
        if key not in self.topping_up:
            self.topping_up[key] = asyncio.create_task(self._topped_up(key))
            self.topping_up[key].add_done_callback(lambda _: self.topping_up.pop(key, None))

    async def _topped_up(self, key: tuple[str, str]) -> None:
        async with self.refills.setdefault(key, asyncio.Lock()):
            held, now = self.held.get(key), time.monotonic()
            if held is None or held[0] > held[2] // 2 or now - held[1] >= self.HOLD_S:
                return  # refilled meanwhile, or no longer busy: the next text takes the usual way
            chunk = self._chunk(key, now)
            if await asyncio.to_thread(rate_limit_take, "predict", key[0], key[1], chunk) is None:
                held = self.held.get(key)
                if held is not None and time.monotonic() - held[1] < self.HOLD_S:
                    held[0] += chunk
                    held[1], held[2] = time.monotonic(), chunk
                else:
                    self.held[key] = [chunk, time.monotonic(), chunk]

    async def take(self, address: str, rate: str | None) -> float | None:
        """One text from `address`'s budget: None when allowed, else seconds until it may try again."""
        if rate is None:
            return None
        key = (address, rate)
        if self._take_held(key, time.monotonic()):
            return None
        if len(self.held) >= self.MAX_ADDRESSES:
            now = time.monotonic()
            self.held = {key: value for key, value in self.held.items() if now - value[1] < self.HOLD_S}
            self.refills = {key: lock for key, lock in self.refills.items() if lock.locked() or key in self.held}
        async with self.refills.setdefault(key, asyncio.Lock()):
            now = time.monotonic()
            if self._take_held(key, now):  # another connection of the address refilled meanwhile
                return None
            chunk = self._chunk(key, now)
            wait = await asyncio.to_thread(rate_limit_take, "predict", address, rate, chunk)
            self.held[key] = [0, now, 1] if wait is not None else [chunk - 1, now, chunk]
            return wait


_text_budgets: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TextBudget] = weakref.WeakKeyDictionary()


def text_budget() -> TextBudget:
    """The text budget of the running event loop (its locks belong to that loop)."""
    loop = asyncio.get_running_loop()
    if loop not in _text_budgets:
        _text_budgets[loop] = TextBudget()
    return _text_budgets[loop]
