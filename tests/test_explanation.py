"""Why this score: spans of the submitted text and how far each pushed the prediction."""

from __future__ import annotations

import asyncio
import re

import numpy as np
import pytest
import torch
from channels.testing import WebsocketCommunicator
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ml.checkpoint import SentimentModel
from ml.encoding import CharEncoding
from ml.explanation import EXPLANATION_SPANS, explain, ngram_token_weights
from ml.model import CharCNN, CharCNNConfig
from ml.shipped import shipped_model

pytestmark = pytest.mark.usefixtures("served_model_reset")

HOSTILE = "\x00Bad\x01 service…  İstanbul\t\tdelivery 😀 was\u200b AWFUL!!\r\n\ud800 never again"


def assert_valid_spans(spans: list[dict], text: str) -> None:
    assert 0 < len(spans) <= EXPLANATION_SPANS
    assert [abs(span["weight"]) for span in spans] == sorted((abs(span["weight"]) for span in spans), reverse=True)
    for span in spans:
        assert set(span) == {"start", "end", "weight"}
        assert 0 <= span["start"] < span["end"] <= len(text)
        piece = text[span["start"] : span["end"]]
        assert piece.strip() == piece and re.search(r"[\x00-\x1f]", piece) is None, repr(piece)


def weight_of(spans: list[dict], text: str, word: str) -> float:
    return next(span["weight"] for span in spans if text[span["start"] : span["end"]] == word)


def test_spans_are_offsets_of_the_text_as_submitted():
    spans = explain(shipped_model(), HOSTILE)
    assert_valid_spans(spans, HOSTILE)
    assert {"Bad", "AWFUL"} <= {HOSTILE[span["start"] : span["end"]] for span in spans}


def test_signs_are_right_on_clear_cases():
    model = shipped_model()
    bad = "Terrible service, rude staff, never again."
    good = "Excellent quality and fast delivery, I highly recommend this shop."
    assert weight_of(explain(model, bad), bad, "Terrible") < 0
    assert weight_of(explain(model, bad), bad, "rude") < 0
    assert weight_of(explain(model, good), good, "recommend") > 0
    assert weight_of(explain(model, good), good, "Excellent") > 0


def test_fasttext_weights_are_the_exact_share_of_the_log_odds():
    """Every token's weight, the bias and the lexicon part add up to the network's logit of good minus bad."""
    model = shipped_model()
    text = "The product itself is fine but delivery took three weeks and support was slow to answer."
    _, tokens, weights = ngram_token_weights(model, text)
    encoded = model.encoding.encode(text)
    with torch.inference_mode():
        logits = model.network(*model.encoding.collate([encoded]))[0].double()
    network = model.network
    lexicon = torch.from_numpy(encoded.lexicon).double() @ network.lexicon_weight.double()
    rest = (network.bias[2] - network.bias[0]).double() + lexicon[2] - lexicon[0]
    assert len(tokens) == 17
    assert float(weights.sum() + rest) == pytest.approx(float(logits[2] - logits[0]), abs=1e-5)


def test_blank_text_has_no_explanation():
    assert explain(shipped_model(), "  \n ") == []


def test_a_charcnn_is_explained_by_occlusion():
    torch.manual_seed(0)
    network = CharCNN(CharCNNConfig(filters=8, hidden=16)).eval()
    for layer in network.modules():  # at its tiny initial weights the output ignores the text: make it read it
        if isinstance(layer, torch.nn.Conv1d | torch.nn.Linear):
            torch.nn.init.normal_(layer.weight, 0.0, 0.3)
    model = SentimentModel("charcnn", network, CharEncoding())
    text = "Broken zip, " * 40 + "slow refund and a rude answer."  # more tokens than are blanked one by one
    spans = explain(model, text)
    assert_valid_spans(spans, text)
    first = spans[0]
    blanked = text[: first["start"]] + " " * (first["end"] - first["start"]) + text[first["end"] :]
    p = model.probabilities([text, blanked]).astype(np.float64)
    drop = (np.log(p[0, 2]) - np.log(p[0, 0])) - (np.log(p[1, 2]) - np.log(p[1, 0]))
    assert first["weight"] == pytest.approx(drop, abs=2e-3)


@pytest.mark.django_db
def test_the_lexicon_is_explained_too(settings):
    from ml.inference import predict

    settings.DEFAULT_MODEL = "off"
    text = "Horrible support. Lovely shoes."
    prediction = predict(text, explain=True)
    assert prediction["model"] == "lexicon-vader"
    assert weight_of(prediction["explanation"], text, "Horrible") < 0
    assert weight_of(prediction["explanation"], text, "Lovely") > 0


@pytest.mark.django_db
@pytest.mark.usefixtures("empty_cache")
def test_the_api_explains_only_when_asked(visitor):
    text = "Rude staff but the shoes are lovely."
    plain = visitor.post("/api/predict/", {"text": text}, format="json").json()
    explained = visitor.post("/api/predict/", {"text": text, "explain": True}, format="json").json()
    wrong = visitor.post("/api/predict/", {"text": text, "explain": "maybe"}, format="json")
    assert "explanation" not in plain
    assert {key: value for key, value in explained.items() if key != "explanation"} == plain
    assert_valid_spans(explained["explanation"], text)
    assert weight_of(explained["explanation"], text, "lovely") > 0
    assert wrong.status_code == 400 and wrong.json()["error"]["fields"].keys() == {"explain"}


@pytest.mark.django_db(transaction=True)
async def test_the_websocket_explains_only_when_asked():
    from config.asgi import application

    text = "Rude staff but the shoes are lovely."
    ws = WebsocketCommunicator(
        application, "/ws/sentiment/", headers=[(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1")]
    )
    assert (await ws.connect(timeout=5))[0]
    try:
        await ws.send_json_to({"text": text, "id": 1, "explain": True})
        explained = await ws.receive_json_from(timeout=30)
        await ws.send_json_to({"text": text, "id": 2})
        plain = await ws.receive_json_from(timeout=30)
        await ws.send_json_to({"text": text, "id": 3, "explain": "yes"})
        wrong = await ws.receive_json_from(timeout=30)
    finally:
        await ws.disconnect()
    assert "explanation" not in plain
    assert_valid_spans(explained["explanation"], text)
    assert weight_of(explained["explanation"], text, "Rude") < 0
    assert wrong == {"id": 3, "error": '"explain" must be true or false.'}
    await asyncio.sleep(0)


PIECES = ["a", "Z", " ", "  ", "\t", "\n", "\x00", "\x85", "\xa0", "İ", "Σ", "😀", "!", ",", ".", "\ud800", "awful"]


@hypothesis_settings(max_examples=80, deadline=None)
@given(text=st.lists(st.sampled_from(PIECES), max_size=30).map("".join))
def test_any_text_gets_spans_within_it(text):
    for span in explain(shipped_model(), text):
        assert 0 <= span["start"] < span["end"] <= len(text)
        assert text[span["start"] : span["end"]].strip()
