"""Websocket `/ws/sentiment/`: the live score while a visitor types.

Protocol (fixed in ARCHITECTURE.md): the client sends `{"text": "...", "id": 17}`; the server answers
with the prediction object plus `id`. With `"explain": true` the answer also holds `explanation`, the
spans of the text that pushed the score (`ml.explanation`); without it the answer is unchanged.
Only the newest waiting text of a connection is scored; an older one still waiting is answered
`{"id": n, "stale": true}`. A bad message gets `{"id": n, "error": "..."}` and the connection stays
open. Every answer is strict JSON: a message that is not (NaN, Infinity, a number beyond a float,
nesting too deep) gets an error answer with `"id": null`.

Limits, each with an answer that says what to do:
- a connection may send SENTIMENT_WS_RATE messages a second on average (SENTIMENT_WS_BURST at once);
  a faster one is answered with an error until it slows down, and once more than
  SENTIMENT_WS_REFUSED_BEFORE_CLOSE of its messages were refused within REFUSALS_WINDOW_S seconds it is
  closed with code 4008 and the reason "Too many messages: slow down to N a second.";
- an address may hold SENTIMENT_WS_CONNECTIONS_PER_ADDRESS connections at once (counted in Redis
  across processes, in this process while Redis is down); one more is closed at once with code 4013;
- every text scored takes one from the address's "predict" budget, the same one `POST /api/predict/`
  takes from (`core.rate_limits`), so moving from HTTP to websockets, or opening more of them, scores
  no more; an empty budget answers an error that says how long to wait. This process takes it from
  the shared count in chunks (`TextBudget`), not with a Redis round trip per keystroke.
A close is preceded by an error answer with the same words, since not every server passes a close reason on.

Scoring never runs on the event loop: every connection of a process hands its text to one
`SentimentBatcher`, which sends whatever is waiting as one `predict_batch` call to a worker thread.
Each connection keeps a `TypingState` (`ml.incremental`) that goes with its text, so the worker
encodes a text that extends or edits the end of the connection's previous one from the change, with
the same result as encoding it whole, and scores the batch in one call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import uuid
import weakref
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import redis
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db import connections
from django_redis import get_redis_connection

from core.api_parsers import strict_json_loads
from core.privacy import hash_ip, scope_client_ip
from core.rate_limits import rate_limit_take, rate_parse, scope_rate
from ml.incremental import TypingState

logger = logging.getLogger(__name__)

MAX_BATCH = 64
_ID_MAX_CHARS = 100
REFUSALS_WINDOW_S = 10.0
# Close codes: 4000 + the RFC 6455 code they stand for (1008 policy violation, 1013 try again later),
# since a server may only send 1000 or 3000-4999 (Daphne's autobahn refuses the others with a 1011).
CLOSE_TOO_MANY_MESSAGES = 4008
CLOSE_TOO_MANY_CONNECTIONS = 4013

# One thread does the scoring: models are CPU-bound and use their own threads (TORCH_THREADS).
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentiment")


def _predict_batch(items: list[Scoring]) -> list[dict]:
    """Score texts in the worker thread; a database connection the model opened is not kept by this thread."""
    from ml import inference

    try:
        texts = [item.text for item in items]
        explain = [item.explain for item in items]
        return inference.predict_batch(texts, explain=explain, states=[item.state for item in items])
    finally:
        # The predictor reads the database at most every few seconds; holding a connection in a
        # long-lived thread would outlive its usefulness (and block dropping a test database).
        connections.close_all()


class Scoring(NamedTuple):
    """One text to score: its connection's typing state (encoding from the change) and whether to explain it."""

    text: str
    state: TypingState | None = None
    explain: bool = False


class SentimentBatcher:
    """Groups texts waiting from all connections of an event loop into one `predict_batch` call.

    Each connection's `TypingState` goes with its text, so the worker thread encodes every text of
    the batch from its own connection's previous one, then scores them all in one call.
    """

    def __init__(self) -> None:
        self._waiting: list[tuple[Scoring, asyncio.Future]] = []
        self._drainer: asyncio.Task | None = None

    async def score(self, text: str, state: TypingState | None = None, explain: bool = False) -> dict:
        """The prediction object for `text`, scored off the event loop together with other waiting texts."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((Scoring(text, state, explain), future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            # While one batch is being scored, new texts pile up and go together in the next one:
            # no waiting window, so a lone typist pays no batching delay.
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            batch = [(item, future) for item, future in batch if not future.done()]
            if not batch:
                continue
            try:
                results = await loop.run_in_executor(_executor, _predict_batch, [item for item, _ in batch])
            except Exception as exc:
                logger.exception("Scoring %d texts failed", len(batch))
                results = [exc] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
        self._drainer = None  # a finished task would keep its event loop alive through this batcher


_batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SentimentBatcher] = weakref.WeakKeyDictionary()


def sentiment_batcher() -> SentimentBatcher:
    """The batcher of the running event loop."""
    loop = asyncio.get_running_loop()
    if loop not in _batchers:
        _batchers[loop] = SentimentBatcher()
    return _batchers[loop]


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


# Strict: NaN or Infinity would make an answer that is not JSON; refusing to encode it is a bug's error.
# One encoder for every answer (`json.dumps` with options builds a new one each call).
_encode_answer = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _id_problem(message_id: object) -> str | None:
    """Why `message_id` cannot be echoed back as JSON, or None when it can."""
    if message_id is None or isinstance(message_id, bool | int):
        return None
    if isinstance(message_id, float) and math.isfinite(message_id):
        return None
    if isinstance(message_id, str) and len(message_id) <= _ID_MAX_CHARS:
        return None
    return f"`id` must be a finite number or a string of at most {_ID_MAX_CHARS} characters."


class SentimentConsumer(AsyncJsonWebsocketConsumer):
    """Scores the newest text of each connection and answers with the prediction object plus `id`."""

    # No channel layer: a connection only talks to its own client, so scoring keeps working when Redis is down.
    channel_layer_alias = None

    async def connect(self) -> None:
        self.rate = settings.SENTIMENT_WS_RATE
        self.limit = RateLimit(self.rate, settings.SENTIMENT_WS_BURST)
        self.refusals = Refusals(settings.SENTIMENT_WS_REFUSED_BEFORE_CLOSE, REFUSALS_WINDOW_S)
        self.max_chars = settings.PREDICTION_MAX_CHARS
        self.waiting: tuple[object, str, bool] | None = None  # (id, text, explain) not yet handed to the scorer
        self.typing = TypingState()  # this connection's last text, so the next is encoded from the change
        self.predict_rate = scope_rate("predict")
        self.batcher, self.budget = sentiment_batcher(), text_budget()
        self.scorer: asyncio.Task | None = None
        self.keeper: asyncio.Task | None = None
        self.closing = False
        self.address = hash_ip(scope_client_ip(self.scope))
        limit = settings.SENTIMENT_WS_CONNECTIONS_PER_ADDRESS
        self.hold = await asyncio.to_thread(connection_budget.take, self.address, limit)
        # Accepted even when over the budget, so that the client learns why: a refused handshake is only
        # "403" to a browser. Counted before the handshake completes, so an open socket holds its place.
        await self.accept()
        if self.hold is None:
            await self.close_saying(
                CLOSE_TOO_MANY_CONNECTIONS,
                f"Too many connections from your address: at most {limit} at once. Close one and try again.",
            )
            return
        self.keeper = asyncio.create_task(self.keep_hold())

    async def __call__(self, scope: dict, receive, send) -> None:
        # With no channel layer a connection has one source of messages, read here in turn: Channels'
        # own loop waits on its sources with a new task and an `asyncio.wait` per message.
        self.scope, self.base_send = scope, send
        with contextlib.suppress(StopConsumer):
            while True:
                await self.dispatch(await receive())

    async def dispatch(self, message: dict) -> None:
        # Channels closes stale database connections before every message, a hop to a thread
        # each time; this consumer never uses the database on the event loop, so it skips that.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def disconnect(self, code: int) -> None:
        for task in (self.scorer, self.keeper):
            if task is not None:
                task.cancel()
        if getattr(self, "hold", None) is not None:
            await asyncio.to_thread(connection_budget.release, self.address, self.hold)
            self.hold = None

    async def keep_hold(self) -> None:
        """Keep this connection counted for its address while it is open."""
        while True:
            await asyncio.sleep(ConnectionBudget.HOLD_REFRESH_S)
            await asyncio.to_thread(connection_budget.refresh, self.address, self.hold)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return
        allowed = self.limit.allow()  # every frame counts, good or bad
        if text_data is None:
            await self.send_error(None, 'Send text frames holding JSON like {"text": "...", "id": 1}.')
            return
        # Refuse oversized frames before parsing them: JSON escapes take at most 6 characters per character.
        if len(text_data) > 6 * self.max_chars + 1000:
            await self.send_error(None, f"Message too long: the text may have at most {self.max_chars} characters.")
            return
        try:
            content = strict_json_loads(text_data)
        except ValueError as exc:
            await self.send_error(None, f'Messages must be JSON like {{"text": "...", "id": 1}} ({exc}).')
            return
        if not allowed:
            await self.refuse(content)
            return
        await self.receive_json(content)

    async def refuse(self, content: object) -> None:
        """Answer a message over the rate; close the connection when it keeps coming too fast."""
        slow_down = f"Too many messages: slow down to {self.rate:g} a second."
        if self.refusals.record():
            await self.close_saying(CLOSE_TOO_MANY_MESSAGES, slow_down)
            return
        message_id = content.get("id") if isinstance(content, dict) else None
        await self.send_error(None if _id_problem(message_id) else message_id, f"{slow_down} This one was not scored.")

    async def receive_json(self, content: object, **kwargs: object) -> None:
        if not isinstance(content, dict):
            await self.send_error(None, 'Send a JSON object like {"text": "...", "id": 1}.')
            return
        message_id = content.get("id")
        if problem := _id_problem(message_id):
            await self.send_error(None, problem)
            return
        text = content.get("text")
        if not isinstance(text, str):
            await self.send_error(message_id, 'Each message needs "text": a string (it may be empty).')
            return
        if len(text) > self.max_chars:
            await self.send_error(
                message_id, f"Text too long: {len(text)} characters, at most {self.max_chars} are scored."
            )
            return
        explain = content.get("explain", False)
        if not isinstance(explain, bool):
            await self.send_error(message_id, '"explain" must be true or false.')
            return
        if self.waiting is not None:
            await self.send_json({"id": self.waiting[0], "stale": True})
        self.waiting = (message_id, text, explain)
        if self.scorer is None or self.scorer.done():
            self.scorer = asyncio.create_task(self.score_waiting())

    async def score_waiting(self) -> None:
        """Score the waiting text, then the next one that arrived meanwhile, until none waits."""
        while self.waiting is not None:
            message_id, text, explain = self.waiting
            self.waiting = None
            # The address's budget is taken only for a text about to be scored, never for a stale one.
            wait = await self.budget.take(self.address, self.predict_rate)
            if wait is not None:
                await self.send_error(
                    message_id, f"Too many texts scored from your address: try again in {math.ceil(wait)} seconds."
                )
                continue
            try:
                prediction = await self.batcher.score(text, self.typing, explain)
                answer = await self.encode_json({**prediction, "id": message_id})
            except Exception:
                await self.send_error(message_id, "Scoring failed; try again in a moment.")
                continue
            await self.send(text_data=answer)

    async def send_error(self, message_id: object, error: str) -> None:
        """Answer a message that could not be scored; the connection stays open."""
        await self.send_json({"id": message_id, "error": error})

    async def close_saying(self, code: int, reason: str) -> None:
        """Close with `code` and `reason`, after an error answer in the same words for servers that drop reasons."""
        self.closing = True
        await self.send_error(None, f"{reason} Closing the connection.")
        await self.close(code=code, reason=reason)

    @classmethod
    async def encode_json(cls, content: object) -> str:
        return _encode_answer(content)
