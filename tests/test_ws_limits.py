"""Live-scoring limits through a real Daphne and a real Redis: what one address may hold and score.

An address's connections are counted in Redis, and the texts its connections score come out of the
same "predict" budget as `POST /api/predict/`, so neither more sockets nor a switch of transport buys
more scoring. A connection that keeps sending too fast is closed with a code a client can act on.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.slow

CONNECTIONS = 3
PREDICTS_A_MINUTE = 4
TEXT = "Friendly staff and quick delivery, I would order again."


@contextlib.contextmanager
def serving(subprocess_env: dict[str, str], **settings: str) -> Iterator[int]:
    """Daphne serving this test's database, its budgets in this test's Redis, with `settings`; yields the port."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT,
        env={**subprocess_env, **settings},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not healthy(port):
            assert server.poll() is None, "Daphne exited"
            assert time.monotonic() < deadline, "Daphne did not answer within 60 s"
            time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=15)


@pytest.fixture
def daphne(subprocess_env) -> Iterator[int]:
    """Daphne with small budgets; yields the port."""
    with serving(
        subprocess_env,
        THROTTLE_PREDICT=f"{PREDICTS_A_MINUTE}/min",
        SENTIMENT_WS_CONNECTIONS_PER_ADDRESS=str(CONNECTIONS),
        SENTIMENT_WS_RATE="2",
        SENTIMENT_WS_BURST="4",
        SENTIMENT_WS_REFUSED_BEFORE_CLOSE="3",
    ) as port:
        yield port


@contextlib.contextmanager
def socket(port: int) -> Iterator[ClientConnection]:
    url, origin = f"ws://127.0.0.1:{port}/ws/sentiment/", f"http://127.0.0.1:{port}"
    with connect(url, origin=origin, open_timeout=30, proxy=None) as ws:
        yield ws


def answer(ws: ClientConnection) -> dict:
    # Generous: the first answer of the server loads the model.
    return json.loads(ws.recv(timeout=60))


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def predict_status(port: int) -> int:
    """The status of one `POST /api/predict/`."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/predict/",
        data=json.dumps({"text": TEXT}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def closed_with(ws: ClientConnection) -> tuple[list[dict], int | None]:
    """Every answer until the server closes the connection, and the close code."""
    answers = []
    with contextlib.suppress(ConnectionClosed):
        while True:
            answers.append(json.loads(ws.recv(timeout=30)))
    return answers, ws.close_code


def test_websocket_texts_and_http_predict_share_one_budget(daphne):
    with socket(daphne) as ws:
        ws.send(json.dumps({"text": TEXT, "id": 1}))
        assert answer(ws)["score"] is not None
    assert predict_status(daphne) == 200
    with socket(daphne) as ws:  # a fresh connection starts with nothing more
        replies = []
        for n in range(2, 5):
            ws.send(json.dumps({"text": TEXT, "id": n}))
            replies.append(answer(ws))
    assert [reply.get("score") is not None for reply in replies] == [True, True, False]
    assert replies[2]["error"].startswith("Too many texts scored from your address: try again in ")
    assert predict_status(daphne) == 429


def test_a_busy_address_scores_its_budget_taken_in_chunks_and_no_more(subprocess_env):
    # 256 a minute: the server takes the budget in chunks of up to 4 (a 64th), topped up ahead.
    with (
        serving(subprocess_env, THROTTLE_PREDICT="256/min", SENTIMENT_WS_RATE="1e3", SENTIMENT_WS_BURST="1000") as port,
        socket(port) as ws,
    ):
        scored = 0
        for n in range(300):
            ws.send(json.dumps({"text": f"{TEXT} {n}", "id": n}))
            reply = answer(ws)
            if "error" in reply:
                assert reply["error"].startswith("Too many texts scored from your address: try again in ")
                break
            assert reply["score"] is not None
            scored += 1
        assert 256 - 2 * 4 <= scored <= 256  # refused at most two chunks early, never late
        assert predict_status(port) == 429  # and the same budget is spent for the API


def test_an_address_may_hold_only_so_many_connections(daphne):
    with contextlib.ExitStack() as stack:
        held = [stack.enter_context(socket(daphne)) for _ in range(CONNECTIONS)]
        with socket(daphne) as extra:
            answers, code = closed_with(extra)
        assert code == 4013
        assert answers[-1]["error"].startswith(f"Too many connections from your address: at most {CONNECTIONS}")
        held[0].send(json.dumps({"text": "", "id": "still here"}))  # the ones let in still answer
        assert answer(held[0])["id"] == "still here"
        held[0].close()
        # The place is given back when the server sees the close: wait for it rather than guess how long.
        deadline = time.monotonic() + 10
        while True:
            with socket(daphne) as again:
                again.send(json.dumps({"text": "", "id": "again"}))
                reply = answer(again)
            if reply.get("id") == "again" or time.monotonic() > deadline:
                break
    assert reply["id"] == "again" and "error" not in reply


def test_a_connection_that_keeps_sending_too_fast_is_closed_with_4008(daphne):
    with socket(daphne) as ws:
        for n in range(1, 9):  # a burst of 4 allowed, 3 refused, the eighth is one refusal too many
            ws.send(json.dumps({"text": "", "id": n}))
        answers, code = closed_with(ws)
    assert code == 4008
    assert [a["id"] for a in answers if a.get("error", "").endswith("This one was not scored.")] == [5, 6, 7]
    assert answers[-1]["error"] == "Too many messages: slow down to 2 a second. Closing the connection."
