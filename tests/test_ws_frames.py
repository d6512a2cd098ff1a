"""The common websocket frames read and written by hand (core/ws_frames.py), against the `websockets` library's framing.

The real server reading them, mixed with frames it leaves to autobahn, is tested in test_server_limits.py.
"""

from __future__ import annotations

import random

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from core.ws_frames import client_text_frame, server_text_frame, unmasked


def client_frame(payload: bytes, opcode: Opcode = Opcode.TEXT, fin: bool = True) -> bytes:
    """A frame as a browser sends it (masked with a random key), by an independent implementation."""
    return Frame(opcode, payload, fin=fin).serialize(mask=True, extensions=[])


def parsed_by_websockets(data: bytes, *, mask: bool) -> Frame:
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=mask, max_size=None, extensions=[])
    try:
        next(parser)
    except StopIteration as done:
        return done.value
    raise AssertionError("the frame was incomplete")


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 125, 126, 127, 300, 4096, 65535])
def test_a_masked_text_frame_of_any_short_or_medium_length_is_read(size):
    text = "aé€😀 " * (size // 11) + "a" * (size % 11)  # 1-, 2-, 3- and 4-byte characters: 11 bytes a round
    frame = client_frame(text.encode())
    assert client_text_frame(frame, 0, 0) == (text, len(frame))


def test_frames_back_to_back_are_read_one_after_another():
    data = b"".join(client_frame(f'{{"text": "review {n}", "id": {n}}}'.encode()) for n in range(5))
    texts, start = [], 0
    while (frame := client_text_frame(data, start, 0)) is not None:
        text, start = frame
        texts.append(text)
    assert texts == [f'{{"text": "review {n}", "id": {n}}}' for n in range(5)]
    assert start == len(data)


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(client_frame(b"part of a message", fin=False), id="a fragment"),
        pytest.param(client_frame(b"the rest", opcode=Opcode.CONT), id="a continuation"),
        pytest.param(client_frame(b"\x00\x01", opcode=Opcode.BINARY), id="binary"),
        pytest.param(client_frame(b"ping", opcode=Opcode.PING), id="a ping"),
        pytest.param(client_frame(b"\x03\xe8", opcode=Opcode.CLOSE), id="a close"),
        pytest.param(bytes([0xC1]) + client_frame(b"compressed")[1:], id="a reserved bit (compressed)"),
        pytest.param(client_frame(b"x" * 65536), id="a 64-bit length"),
        pytest.param(Frame(Opcode.TEXT, b"not masked").serialize(mask=False, extensions=[]), id="unmasked"),
        pytest.param(client_frame(b"\xff\xfe invalid"), id="invalid UTF-8"),
        pytest.param(client_frame("cut in the middle of é".encode()[:-1]), id="a cut character"),
        pytest.param(bytes([0x81, 0xFE, 0x00, 0x05]) + b"mask" + b"short", id="a non-minimal length"),
    ],
)
def test_anything_else_is_left_to_the_general_parser_from_where_it_starts(frame):
    assert client_text_frame(frame, 0, 0) is None
    assert client_text_frame(client_frame(b"first") + frame, 0, 0) == ("first", len(client_frame(b"first")))


def test_a_frame_not_wholly_received_waits():
    frame = client_frame(b"x" * 300)
    for cut in (1, 2, 5, 7, 8, 100, len(frame) - 1):
        assert client_text_frame(frame[:cut], 0, 0) is None


def test_a_frame_over_the_size_limit_is_left_to_the_general_parser():
    frame = client_frame(b"x" * 200)
    assert client_text_frame(frame, 0, 199) is None
    assert client_text_frame(frame, 0, 200) == ("x" * 200, len(frame))


def test_unmasking_is_the_bytewise_xor_with_the_repeated_key():
    rng = random.Random(5)
    for size in (0, 1, 3, 4, 7, 1000):
        payload, mask = rng.randbytes(size), rng.randbytes(4)
        assert unmasked(payload, mask) == bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))


@pytest.mark.parametrize("size", [0, 125, 126, 65535])
def test_an_answer_frame_is_what_a_client_reads(size):
    payload = b"a" * size
    frame = parsed_by_websockets(server_text_frame(payload), mask=False)
    assert (frame.opcode, frame.fin, frame.data) == (Opcode.TEXT, True, payload)


def test_an_answer_too_long_for_the_short_frame_is_left_to_autobahn():
    assert server_text_frame(b"a" * 65536) is None
