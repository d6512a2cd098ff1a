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
The limits themselves live in `ml.live_limits`.
A close is preceded by an error answer with the same words, since not every server passes a close reason on.

Scoring never runs on the event loop: every connection of a process hands its text to one
`SentimentBatcher` (`ml.live_batcher`), which sends whatever is waiting as one `predict_batch` call to a worker thread.
Each connection keeps a `TypingState` (`ml.incremental`) that goes with its text, so the worker
encodes a text that extends or edits the end of the connection's previous one from the change, with
the same result as encoding it whole, and scores the batch in one call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from core.api_parsers import strict_json_loads
from core.privacy import hash_ip, scope_client_ip
from core.rate_limits import scope_rate
from ml.incremental import TypingState
from ml.live_batcher import sentiment_batcher
from ml.live_limits import ConnectionBudget, RateLimit, Refusals, connection_budget, text_budget

_ID_MAX_CHARS = 100
REFUSALS_WINDOW_S = 10.0
# Close codes: 4000 + the RFC 6455 code they stand for (1008 policy violation, 1013 try again later),
# since a server may only send 1000 or 3000-4999 (Daphne's autobahn refuses the others with a 1011).
CLOSE_TOO_MANY_MESSAGES = 4008
CLOSE_TOO_MANY_CONNECTIONS = 4013


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
