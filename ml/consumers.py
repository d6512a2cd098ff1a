"""Websocket `/ws/sentiment/`: the live score while a visitor types.

Protocol (fixed in ARCHITECTURE.md): the client sends `{"text": "...", "id": 17}`; the server answers
with the prediction object plus `id`. Only the newest waiting text of a connection is scored; an older
one still waiting is answered `{"id": n, "stale": true}`. A bad message gets `{"id": n, "error": "..."}`
and the connection stays open. A connection may send SENTIMENT_WS_RATE messages a second on average
(SENTIMENT_WS_BURST at once); a faster one is answered with an error until it slows down.

Scoring never runs on the event loop: every connection of a process hands its text to one
`SentimentBatcher`, which sends whatever is waiting as one `predict_batch` call to a worker thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from concurrent.futures import ThreadPoolExecutor

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)

MAX_BATCH = 64
_ID_MAX_CHARS = 100

# One thread does the scoring: models are CPU-bound and use their own threads (TORCH_THREADS).
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentiment")


def _predict_batch(texts: list[str]) -> list[dict]:
    """Score texts in the worker thread; a database connection the model opened is not kept by this thread."""
    from ml import inference

    try:
        return inference.predict_batch(texts)
    finally:
        # The predictor reads the database at most every few seconds; holding a connection in a
        # long-lived thread would outlive its usefulness (and block dropping a test database).
        connections.close_all()


class SentimentBatcher:
    """Groups texts waiting from all connections of an event loop into one `predict_batch` call."""

    def __init__(self) -> None:
        self._waiting: list[tuple[str, asyncio.Future]] = []
        self._drainer: asyncio.Task | None = None

    async def score(self, text: str) -> dict:
        """The prediction object for `text`, scored off the event loop together with other waiting texts."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((text, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            # While one batch is being scored, new texts pile up and go together in the next one:
            # no waiting window, so a lone typist pays no batching delay.
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            batch = [(text, future) for text, future in batch if not future.done()]
            if not batch:
                continue
            try:
                results = await loop.run_in_executor(_executor, _predict_batch, [text for text, _ in batch])
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


class SentimentConsumer(AsyncJsonWebsocketConsumer):
    """Scores the newest text of each connection and answers with the prediction object plus `id`."""

    # No channel layer: a connection only talks to its own client, so scoring keeps working when Redis is down.
    channel_layer_alias = None

    async def connect(self) -> None:
        self.rate = settings.SENTIMENT_WS_RATE
        self.limit = RateLimit(self.rate, settings.SENTIMENT_WS_BURST)
        self.max_chars = settings.PREDICTION_MAX_CHARS
        self.waiting: tuple[object, str] | None = None  # (id, text) not yet handed to the scorer
        self.scorer: asyncio.Task | None = None
        await self.accept()

    async def dispatch(self, message: dict) -> None:
        # Channels closes stale database connections before every message, a hop to a thread
        # each time; this consumer never uses the database on the event loop, so it skips that.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def disconnect(self, code: int) -> None:
        if self.scorer is not None:
            self.scorer.cancel()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        allowed = self.limit.allow()  # every frame counts, good or bad
        if text_data is None:
            await self.send_error(None, 'Send text frames holding JSON like {"text": "...", "id": 1}.')
            return
        # Refuse oversized frames before parsing them: JSON escapes take at most 6 characters per character.
        if len(text_data) > 6 * self.max_chars + 1000:
            await self.send_error(None, f"Message too long: the text may have at most {self.max_chars} characters.")
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self.send_error(None, 'Messages must be JSON like {"text": "...", "id": 1}.')
            return
        if not allowed:
            message_id = content.get("id") if isinstance(content, dict) else None
            await self.send_error(message_id, f"Too many messages: at most {self.rate:g} a second. Slow down.")
            return
        await self.receive_json(content)

    async def receive_json(self, content: object, **kwargs: object) -> None:
        if not isinstance(content, dict):
            await self.send_error(None, 'Send a JSON object like {"text": "...", "id": 1}.')
            return
        message_id = content.get("id")
        if isinstance(message_id, (dict, list)) or (isinstance(message_id, str) and len(message_id) > _ID_MAX_CHARS):
            await self.send_error(None, f"`id` must be a number or a string of at most {_ID_MAX_CHARS} characters.")
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
        if self.waiting is not None:
            await self.send_json({"id": self.waiting[0], "stale": True})
        self.waiting = (message_id, text)
        if self.scorer is None or self.scorer.done():
            self.scorer = asyncio.create_task(self.score_waiting())

    async def score_waiting(self) -> None:
        """Score the waiting text, then the next one that arrived meanwhile, until none waits."""
        while self.waiting is not None:
            message_id, text = self.waiting
            self.waiting = None
            try:
                prediction = await sentiment_batcher().score(text)
            except Exception:
                await self.send_error(message_id, "Scoring failed; try again in a moment.")
                continue
            await self.send_json({**prediction, "id": message_id})

    async def send_error(self, message_id: object, error: str) -> None:
        """Answer a message that could not be scored; the connection stays open."""
        await self.send_json({"id": message_id, "error": error})

    @classmethod
    async def encode_json(cls, content: object) -> str:
        return json.dumps(content, separators=(",", ":"))
