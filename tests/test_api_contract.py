"""Contract: POST /api/predict/ and the websocket /ws/sentiment/ answer the same object for the same text."""

from __future__ import annotations

import json

import pytest
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.test import AsyncClient

from config.asgi import application

# The websocket scores in a worker thread that reads the database, so the test commits for real.
pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")]
TEXTS = [
    "Excellent service, friendly staff, quick delivery. I love this shop!",
    "Terrible. Rude staff, broken product and no refund.",
    "It was okay, nothing special.",
    "   ",
    "",
    "Très bien 👍 — livraison rapide",
    "tabs\tand\nnewlines and a bell \x07 inside",
]


async def predict_over_http(client: AsyncClient, text: str):
    response = await client.post("/api/predict/", json.dumps({"text": text}), content_type="application/json")
    return response.status_code, response.json()


async def test_http_and_websocket_give_the_same_prediction(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"predict": "1000/min"}}
    await cache.aclear()
    client = AsyncClient(headers={"host": "127.0.0.1"})
    ws = WebsocketCommunicator(application, "/ws/sentiment/", headers=ORIGIN)
    connected, _ = await ws.connect(timeout=10)
    assert connected
    try:
        for number, text in enumerate(TEXTS):
            await ws.send_json_to({"text": text, "id": number})
            # Generous: the first answer of a process may load the model.
            over_ws = await ws.receive_json_from(timeout=30)
            status, over_http = await predict_over_http(client, text)

            assert status == 200
            assert over_ws.pop("id") == number
            assert over_ws == over_http, text
    finally:
        await ws.disconnect()


async def test_both_refuse_a_text_over_the_limit(settings):
    settings.PREDICTION_MAX_CHARS = 50
    text = "x" * 51
    client = AsyncClient(headers={"host": "127.0.0.1"})
    ws = WebsocketCommunicator(application, "/ws/sentiment/", headers=ORIGIN)
    connected, _ = await ws.connect(timeout=10)
    assert connected
    try:
        await ws.send_json_to({"text": text, "id": 1})
        over_ws = await ws.receive_json_from(timeout=30)
        status, over_http = await predict_over_http(client, text)
    finally:
        await ws.disconnect()

    assert over_ws["id"] == 1 and over_ws["error"]
    assert status == 400
    assert list(over_http["error"]["fields"]) == ["text"]
