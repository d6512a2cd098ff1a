"""The websocket /ws/sentiment/ through the real ASGI application (origin check included)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator

import pytest
from channels.testing import WebsocketCommunicator

from config.asgi import application

# The model may read the active ModelVersion from another thread, so tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)

POSITIVE = "Excellent service, friendly staff, quick delivery. I love this shop and recommend it!"
NEGATIVE = "Terrible. Rude staff, broken product, awful support and no refund. Worst shop ever."
ORIGIN = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")]


@contextlib.asynccontextmanager
async def connected(headers: list[tuple[bytes, bytes]] = ORIGIN) -> AsyncIterator[WebsocketCommunicator]:
    communicator = WebsocketCommunicator(application, "/ws/sentiment/", headers=headers)
    ok, _ = await communicator.connect(timeout=5)
    assert ok, "the websocket refused the connection"
    try:
        yield communicator
    finally:
        await communicator.disconnect()


async def until(condition, timeout: float = 10) -> None:
    """Give the event loop (the consumers) turns until `condition()` holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the condition did not hold in time"
        await asyncio.sleep(0.01)


async def answer(ws: WebsocketCommunicator) -> dict:
    # Generous: the first answer of a process loads the model (importing torch takes seconds on a busy machine).
    return await ws.receive_json_from(timeout=30)


async def test_a_text_is_scored_and_its_id_echoed():
    async with connected() as ws:
        await ws.send_json_to({"text": POSITIVE, "id": 17})
        good = await answer(ws)
        await ws.send_json_to({"text": NEGATIVE, "id": "second"})
        bad = await answer(ws)
    assert good["id"] == 17
    assert set(good) == {"id", "score", "label", "probabilities", "suggested_rating", "model"}
    assert good["score"] > 0.67 and good["label"] == "good" and good["suggested_rating"] in (4, 5)
    assert set(good["probabilities"]) == {"bad", "average", "good"}
    assert bad["id"] == "second"
    assert bad["score"] < 0.33 and bad["label"] == "bad" and bad["suggested_rating"] in (1, 2)


async def test_id_is_optional_and_empty_text_answers_nulls():
    async with connected() as ws:
        await ws.send_json_to({"text": "   "})
        empty = await answer(ws)
    assert empty["id"] is None
    assert empty["score"] is None and empty["label"] is None
    assert empty["probabilities"] is None and empty["suggested_rating"] is None
    assert empty["model"]


@pytest.mark.parametrize(
    ("frame", "expected_id", "says"),
    [
        ("this is not json", None, "must be JSON"),
        ('{"id": 3}', 3, '"text"'),
        ('{"id": 4, "text": 42}', 4, '"text"'),
        ('["text", "id"]', None, "JSON object"),
        ('{"id": [1], "text": "x"}', None, "`id`"),
    ],
)
async def test_a_bad_message_gets_an_error_and_the_connection_stays(frame, expected_id, says):
    async with connected() as ws:
        await ws.send_to(text_data=frame)
        error = await answer(ws)
        assert error["id"] == expected_id
        assert says in error["error"]
        await ws.send_json_to({"text": POSITIVE, "id": 5})
        assert (await answer(ws))["score"] > 0.67


def strict_json(frame: str) -> dict:
    """An answer parsed as JSON proper: NaN or Infinity in it fails the test."""
    return json.loads(frame, parse_constant=lambda name: pytest.fail(f"{name} in an answer: not JSON"))


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        ('{"text": "fine", "id": 1e999}', "too large for a JSON number"),
        ('{"text": "fine", "id": -1e999}', "too large for a JSON number"),
        ('{"text": "fine", "id": NaN}', "NaN is not a JSON value"),
        ('{"text": "fine", "id": Infinity}', "Infinity is not a JSON value"),
        ('{"text": "fine", "id": ' + "[" * 20000 + "}", "nested more than 64 levels"),
        ('{"text": "fine", "id": 1, "x": ' + '{"a":' * 5000 + "}", "nested more than 64 levels"),
        ('{"text": "fine", "id": "' + "9" * 101 + '"}', "`id` must be a finite number"),
    ],
    ids=["1e999", "-1e999", "NaN", "Infinity", "nested-arrays", "nested-objects", "long-id"],
)
async def test_a_message_that_is_not_strict_json_gets_an_error_in_strict_json(frame, says):
    async with connected() as ws:
        await ws.send_to(text_data=frame)
        error = strict_json(await ws.receive_from(timeout=30))
        assert error["id"] is None and says in error["error"]
        await ws.send_json_to({"text": POSITIVE, "id": 2.5})  # the connection still scores
        scored = strict_json(await ws.receive_from(timeout=30))
    assert scored["id"] == 2.5 and scored["score"] > 0.67


async def test_a_connection_that_keeps_sending_too_fast_is_closed_with_the_reason(settings):
    settings.SENTIMENT_WS_RATE, settings.SENTIMENT_WS_BURST, settings.SENTIMENT_WS_REFUSED_BEFORE_CLOSE = 2, 2, 3
    async with connected() as ws:
        for n in range(1, 7):  # two within the burst, three refused with an error, the sixth closes
            await ws.send_json_to({"text": f"message number {n} is nice", "id": n})
        outputs = []
        while not outputs or outputs[-1]["type"] != "websocket.close":
            outputs.append(await ws.receive_output(timeout=30))
    errors = [json.loads(o["text"]) for o in outputs if o["type"] == "websocket.send" and "error" in o["text"]]
    refused = [e["id"] for e in errors if e["error"].endswith("This one was not scored.")]
    assert refused == [3, 4, 5]
    assert errors[-1] == {"id": None, "error": "Too many messages: slow down to 2 a second. Closing the connection."}
    assert outputs[-1] == {
        "type": "websocket.close",
        "code": 4008,
        "reason": "Too many messages: slow down to 2 a second.",
    }


async def test_a_brief_excess_is_answered_and_the_connection_stays(settings):
    settings.SENTIMENT_WS_RATE, settings.SENTIMENT_WS_BURST, settings.SENTIMENT_WS_REFUSED_BEFORE_CLOSE = 5, 2, 3
    async with connected() as ws:
        for n in range(1, 6):  # three refused: not more than three, so the connection stays
            await ws.send_json_to({"text": f"message number {n} is nice", "id": n})
        answers = [await answer(ws) for _ in range(5)]
        await asyncio.sleep(0.5)  # the bucket refills at 5 a second
        await ws.send_json_to({"text": POSITIVE, "id": "later"})
        while (later := await answer(ws))["id"] != "later":
            pass
    assert sum("Too many messages" in a.get("error", "") for a in answers) == 3
    assert later["score"] > 0.67


async def test_one_address_may_hold_only_so_many_connections(settings):
    settings.SENTIMENT_WS_CONNECTIONS_PER_ADDRESS = 2
    async with connected() as first, connected():
        extra = WebsocketCommunicator(application, "/ws/sentiment/", headers=ORIGIN)
        await extra.connect(timeout=5)
        said = json.loads(await extra.receive_from(timeout=10))
        closed = await extra.receive_output(timeout=10)
        await extra.disconnect()
        await first.send_json_to({"text": POSITIVE, "id": 1})  # the two that were let in still score
        assert (await answer(first))["score"] > 0.67
    assert said["error"].startswith("Too many connections from your address: at most 2 at once.")
    assert closed["type"] == "websocket.close" and closed["code"] == 4013
    async with connected() as again:  # places are given back on disconnect
        await again.send_json_to({"text": POSITIVE, "id": 2})
        assert (await answer(again))["id"] == 2


async def test_texts_scored_take_from_the_address_predict_budget(settings, empty_cache):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"predict": "2/min"}}
    async with connected() as ws:
        replies = []
        for n in range(1, 4):
            await ws.send_json_to({"text": POSITIVE, "id": n})
            replies.append(await answer(ws))
    assert [r["score"] > 0.67 for r in replies[:2]] == [True, True]
    assert replies[2]["id"] == 3
    assert replies[2]["error"].startswith("Too many texts scored from your address: try again in ")


async def test_binary_frames_are_refused_politely():
    async with connected() as ws:
        await ws.send_to(bytes_data=b"\x00\x01")
        assert "text frames" in (await answer(ws))["error"]


async def test_oversized_text_is_refused_and_the_limit_itself_is_scored(settings):
    settings.PREDICTION_MAX_CHARS = 200
    async with connected() as ws:
        await ws.send_json_to({"text": "good " * 41, "id": 1})  # 205 characters
        error = await answer(ws)
        await ws.send_json_to({"text": ("good " * 40)[:200], "id": 2})
        scored = await answer(ws)
        await ws.send_to(text_data='{"text": "' + "x" * 5000 + '", "id": 3}')  # a huge frame, refused unparsed
        huge = await answer(ws)
    assert error == {"id": 1, "error": "Text too long: 205 characters, at most 200 are scored."}
    assert scored["id"] == 2 and scored["score"] is not None
    assert "too long" in huge["error"]


async def test_too_many_messages_are_refused_then_allowed_again(settings):
    settings.SENTIMENT_WS_RATE, settings.SENTIMENT_WS_BURST = 5, 5
    async with connected() as ws:
        for n in range(1, 9):
            await ws.send_json_to({"text": f"message number {n} is nice", "id": n})
        answers = {}
        while len(answers) < 8:
            reply = await answer(ws)
            answers[reply["id"]] = reply
        await asyncio.sleep(0.5)  # the bucket refills at 5 a second
        await ws.send_json_to({"text": POSITIVE, "id": 99})
        later = await answer(ws)
    refused = [n for n, reply in answers.items() if "Too many messages" in reply.get("error", "")]
    assert refused == [6, 7, 8]
    assert later["id"] == 99 and later["score"] > 0.67


async def test_a_burst_is_coalesced_to_the_newest_text():
    words = (POSITIVE + " ") * 30  # long texts take the model a moment, so the burst piles up
    async with connected() as ws:
        for n in range(1, 31):
            await ws.send_json_to({"text": words[: 100 * n], "id": n})
        answers: dict[int, list[dict]] = {}
        while 30 not in answers or "stale" in answers[30][0]:
            reply = await answer(ws)
            answers.setdefault(reply["id"], []).append(reply)
        # One more text: its answer comes after anything still owed for the burst (a second answer included).
        await ws.send_json_to({"text": POSITIVE, "id": "after"})
        while (reply := await answer(ws))["id"] != "after":
            answers.setdefault(reply["id"], []).append(reply)
    assert sorted(answers) == list(range(1, 31))  # every message answered once
    assert all(len(replies) == 1 for replies in answers.values())
    stale = [n for n, (reply,) in answers.items() if reply.get("stale")]
    scored = [n for n, (reply,) in answers.items() if "score" in reply]
    assert answers[30][0]["score"] > 0.67  # the newest text is always scored
    assert stale and len(scored) < 30


async def test_connections_are_scored_side_by_side():
    async with connected() as first, connected() as second:
        await first.send_json_to({"text": POSITIVE, "id": 1})
        await second.send_json_to({"text": NEGATIVE, "id": 1})
        good, bad = await asyncio.gather(answer(first), answer(second))
    assert good["label"] == "good" and bad["label"] == "bad"


async def test_texts_waiting_from_several_connections_are_scored_in_one_batch(monkeypatch):
    from ml import inference
    from ml.live_batcher import SentimentBatcher

    real, batches, gate = inference.predict_batch, [], threading.Event()
    real_score, handed_in = SentimentBatcher.score, []

    async def score(self, text: str, *args) -> dict:
        handed_in.append(text)  # the text waits in the batcher from here on
        return await real_score(self, text, *args)

    def predict_batch(texts: list[str], **kwargs) -> list[dict]:
        batches.append(len(texts))
        if len(batches) == 1:
            gate.wait(10)  # hold the first batch in the worker thread
        return real(texts, **kwargs)

    monkeypatch.setattr(inference, "predict_batch", predict_batch)
    monkeypatch.setattr(SentimentBatcher, "score", score)
    async with contextlib.AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(connected()) for _ in range(5)]
        await sockets[0].send_json_to({"text": POSITIVE, "id": 0})
        await until(lambda: batches)
        # The event loop stays free while the model works: four more texts arrive and wait together.
        for n, ws in enumerate(sockets[1:], start=1):
            await ws.send_json_to({"text": NEGATIVE, "id": n})
        await until(lambda: len(handed_in) == 5)
        gate.set()
        answers = [await answer(ws) for ws in sockets]
    assert [a["id"] for a in answers] == [0, 1, 2, 3, 4]
    assert answers[0]["label"] == "good" and all(a["label"] == "bad" for a in answers[1:])
    assert batches == [1, 4]


async def test_a_foreign_origin_is_refused():
    communicator = WebsocketCommunicator(
        application, "/ws/sentiment/", headers=[(b"origin", b"http://evil.example"), (b"host", b"127.0.0.1")]
    )
    try:
        ok, _ = await communicator.connect(timeout=5)
        assert not ok
    finally:
        await communicator.disconnect()


async def test_no_origin_is_refused():
    communicator = WebsocketCommunicator(application, "/ws/sentiment/")
    try:
        ok, _ = await communicator.connect(timeout=5)
        assert not ok
    finally:
        await communicator.disconnect()
