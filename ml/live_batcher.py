"""Live scoring off the event loop: the texts waiting from every connection of a process, scored in batches.

Every connection of a process hands its text to one `SentimentBatcher` (per event loop), which sends
whatever is waiting as one `predict_batch` call to a single worker thread. Each text goes with its
connection's `TypingState` (`ml.incremental`), so the worker encodes it from the change since that
connection's previous text, with the same result as encoding it whole.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from django.db import connections

from ml.incremental import TypingState

logger = logging.getLogger(__name__)

MAX_BATCH = 64

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
