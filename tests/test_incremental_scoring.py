"""Incremental scoring while typing: a text encoded from the change since the last one scores as the whole text."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml.encoding import CharEncoding, NgramEncoding
from ml.incremental import TypingState, common_prefix_length
from ml.shipped import shipped_model

pytestmark = pytest.mark.usefixtures("served_model_reset")

PIECES = [
    "good",
    "Terrible",
    "BUT",
    "but",
    "not",
    "very",
    "kind of",
    "no",
    "never so",
    "at least",
    "GREAT",
    "!",
    "???",
    ":)",
    "delivery,",
    "fast.",
    "😀",
    "👍🏽",
    "İstanbul",
    "ΣΟΦΟΣ",
    "  ",
    "\n\n",
    "\t",
    " ",
    "x",
    "©",
    "don't",
]
piece = st.one_of(st.sampled_from(PIECES), st.text(max_size=6))
edit = st.one_of(
    st.tuples(st.just("append"), piece),
    st.tuples(st.just("delete_end"), st.integers(1, 12)),
    st.tuples(st.just("paste"), st.floats(0, 1), piece),
    st.tuples(st.just("cut"), st.floats(0, 1), st.integers(1, 8)),
    st.tuples(st.just("replace_end"), st.integers(1, 6), piece),
)


def edited(text: str, step: tuple) -> str:
    """`text` after one edit a typist could make."""
    kind, *args = step
    if kind == "append":
        return text + args[0]
    if kind == "delete_end":
        return text[: max(0, len(text) - args[0])]
    if kind == "paste":
        at = int(args[0] * len(text))
        return text[:at] + args[1] + text[at:]
    if kind == "cut":
        at = int(args[0] * len(text))
        return text[:at] + text[at + args[1] :]
    return text[: max(0, len(text) - args[0])] + args[1]


def assert_same_encoding(state_encoded, whole) -> None:
    assert np.array_equal(state_encoded.ids, whole.ids)
    assert np.array_equal(state_encoded.tf, whole.tf)
    assert np.array_equal(state_encoded.lexicon, whole.lexicon)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=st.sampled_from(["", "The boots arrived quickly ", "Awful. " * 30]), edits=st.lists(edit, max_size=25))
def test_edit_sequences_encode_and_score_as_the_whole_text(start, edits):
    model = shipped_model()
    state, text = TypingState(), start
    for step in [("append", ""), *edits]:
        text = edited(text, step)
        incremental = state.encode(model.encoding, text)
        whole = model.encoding.encode(text)
        assert_same_encoding(incremental, whole)
        assert np.allclose(model.probabilities_encoded([incremental]), model.probabilities([text]), rtol=0, atol=1e-7)
    assert state.updates == len(edits)


def test_a_long_review_typed_character_by_character_is_encoded_from_the_change():
    model = shipped_model()
    review = (
        "I ordered boots on Monday; they came Wednesday, well packed. The leather is soft but the fee was "
        "high!! Support answered within an hour 😀 — overall GREAT, not bad at all. "
    ) * 3
    state = TypingState()
    for end in range(0, len(review) + 1, 7):
        assert_same_encoding(state.encode(model.encoding, review[:end]), model.encoding.encode(review[:end]))
    assert state.updates > 0


def test_it_falls_back_to_the_whole_text_when_the_state_does_not_apply():
    short = NgramEncoding(max_chars=20, lexicon=True)
    state = TypingState()
    state.encode(short, "fine service")
    cut = "fine service, but slow delivery"  # longer than the encoding reads: encoded whole, state dropped
    assert_same_encoding(state.encode(short, cut), short.encode(cut))
    assert state.ngrams is None
    other = NgramEncoding(lexicon=False)  # another model's encoding: started afresh
    state.encode(short, "fine")
    assert_same_encoding(state.encode(other, "fine service"), other.encode("fine service"))
    assert state.encoding is other and state.updates == 0
    chars = CharEncoding()  # the char-CNNs read characters by position: always whole
    assert np.array_equal(state.encode(chars, "fine service"), chars.encode("fine service"))


@pytest.mark.django_db(transaction=True)
async def test_typing_over_the_websocket_answers_what_scoring_the_whole_text_answers():
    import asyncio

    from channels.testing import WebsocketCommunicator

    from config.asgi import application
    from ml.inference import predict

    review = "Quick delivery and friendly staff, but the box was damaged and nobody answered my emails. "
    ends = range(10, len(review) + 1, 9)
    ws = WebsocketCommunicator(
        application, "/ws/sentiment/", headers=[(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1")]
    )
    assert (await ws.connect(timeout=5))[0]
    answers = []
    try:
        for n, end in enumerate(ends):
            await ws.send_json_to({"text": review[:end], "id": n})
            answers.append(await ws.receive_json_from(timeout=30))
    finally:
        await ws.disconnect()
    expected = await asyncio.to_thread(lambda: [predict(review[:end]) for end in ends])
    assert answers == [{**prediction, "id": n} for n, prediction in enumerate(expected)]


@pytest.mark.parametrize(("a", "b", "same"), [("", "", 0), ("abc", "abd", 2), ("abc", "abcde", 3), ([1, 2], [1, 3], 1)])
def test_common_prefix_length(a, b, same):
    assert common_prefix_length(a, b) == same
