"""The web server's own limits (core/server.py), against a real server started as `runstack` starts it.

One server for the module, on its own migrated SQLite database and the test Redis, with the live-scoring
consumer's message limits lifted: what is tested here is what the transport holds by itself.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.frames import Frame, Opcode
from websockets.sync.client import connect

from core.errors import error_json
from core.server import daphne_command
from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.slow

LIMIT = 1024 * 1024  # MAX_REQUEST_BODY_BYTES's default
TEXT = "The boots arrived quickly and fit well, but the laces broke after a week of wear."


@dataclass
class Site:
    port: int
    process: subprocess.Popen
    tmpdir: Path

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024

    def files_in_tmpdir(self) -> list[str]:
        """The server's open files under its TMPDIR (a temporary file is unlinked at once, so only its fd shows)."""
        fd_dir = Path(f"/proc/{self.process.pid}/fd")
        return [link for fd in fd_dir.iterdir() if (link := _readlink(fd)).startswith(str(self.tmpdir))]


def _readlink(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


@pytest.fixture(scope="module")
def site(redis_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Site:
    workdir = tmp_path_factory.mktemp("server-limits")
    (workdir / "tmp").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_ENV"}}
    env.update(
        SQLITE_PATH=str(workdir / "site.sqlite3"),
        MEDIA_ROOT=str(workdir / "media"),
        REDIS_URL=redis_server_url,
        TMPDIR=str(workdir / "tmp"),
        SENTIMENT_WS_RATE="1000000",
        SENTIMENT_WS_BURST="1000000",
        SENTIMENT_WS_REFUSED_BEFORE_CLOSE="1000000",
        THROTTLE_PREDICT="100000000/min",
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120)
    port = free_port()
    process = subprocess.Popen(
        daphne_command("127.0.0.1", port), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while not _answers(port):
            assert process.poll() is None, "the web server exited"
            assert time.monotonic() < deadline, "the web server did not come up within 60 s"
            time.sleep(0.2)
        yield Site(port=port, process=process, tmpdir=workdir / "tmp")
    finally:
        process.terminate()
        process.wait(timeout=15)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def exchange(port: int, head: bytes, body_chunks: list[bytes] = (), timeout: float = 10) -> tuple[int, bytes]:
    """Send a request (the body only while the server has not answered); the status and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        for chunk in body_chunks:
            try:
                if sock.recv(1, socket.MSG_PEEK):
                    break  # answered already: the rest of the body is not sent
            except BlockingIOError:
                pass
            sock.setblocking(True)
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break  # the server has answered and stopped reading
            sock.setblocking(False)
        sock.setblocking(True)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def post_head(content_length: str, path: str = "/api/predict/") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {content_length}\r\n\r\n"
    ).encode()


def client_frame(payload: bytes, opcode: Opcode = Opcode.TEXT, fin: bool = True) -> bytes:
    """A frame as a browser sends it, masked with a random key (the `websockets` library's framing)."""
    return Frame(opcode, payload, fin=fin).serialize(mask=True, extensions=[])


def score(ws, n: int) -> dict:
    ws.send(json.dumps({"text": f"{TEXT} {n}", "id": n}))
    while True:
        answer = json.loads(ws.recv(timeout=60))
        if answer.get("id") == n:
            return answer


class Flooder(threading.Thread):
    """A websocket client that sends texts as fast as the socket takes them and never reads an answer."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.stopped_reading = threading.Event()  # a send blocked for 3 s, or the connection cut: not read any more
        self.done = threading.Event()

    def run(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            f"GET /ws/sentiment/ HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: http://127.0.0.1:{self.port}\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)  # nothing after the handshake is ever read
        frames = []
        for n in range(200):
            payload = json.dumps({"text": TEXT, "id": n}).encode()
            frames.append(bytes([0x81, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)  # masked with a zero key
        burst = b"".join(frames)
        sock.settimeout(3.0)
        try:
            while not self.done.is_set():
                try:
                    sock.send(burst)
                except TimeoutError:
                    self.stopped_reading.set()
        except OSError:
            self.stopped_reading.set()  # cut off
        finally:
            sock.close()


class RawWebsocket:
    """A websocket client on a plain socket: frames are written as given, so one write can mix kinds of frame."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET /ws/sentiment/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: http://127.0.0.1:{port}\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101")

    def _exactly(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def frame(self) -> tuple[int, bytes]:
        """The next frame from the server (its opcode and payload); EOFError when the connection ended."""
        first, second = self._exactly(2)
        size = second & 0x7F
        if size == 126:
            size = int.from_bytes(self._exactly(2), "big")
        elif size == 127:
            size = int.from_bytes(self._exactly(8), "big")
        return first & 0x0F, self._exactly(size)

    def answers(self, until_id: object) -> tuple[dict[object, dict], list[bytes]]:
        """Answers by id, and the payloads of the pongs, until the answer to `until_id` has come."""
        answers, pongs = {}, []
        while until_id not in answers or answers[until_id].get("stale"):
            opcode, payload = self.frame()
            if opcode == 0xA:
                pongs.append(payload)
            elif opcode == 0x1:
                answer = json.loads(payload)
                assert answer["id"] not in answers or answers[answer["id"]].get("stale"), "answered twice"
                answers[answer["id"]] = answer
        return answers, pongs


def message(message_id: object, text: str = TEXT) -> bytes:
    return json.dumps({"text": text, "id": message_id}).encode()


def test_whole_text_frames_fragments_and_pings_in_one_write_are_all_answered(site):
    ws = RawWebsocket(site.port)
    fragmented = message("fragmented", TEXT + " Second half.")
    ws.sock.sendall(
        client_frame(message("short"))
        + client_frame(b"are you there?", opcode=Opcode.PING)
        + client_frame(fragmented[:20], fin=False)
        + client_frame(fragmented[20:], opcode=Opcode.CONT)
        + client_frame(message("long", TEXT * 4))  # over 125 bytes: a 16-bit length
    )
    answers, pongs = ws.answers(until_id="long")
    assert pongs == [b"are you there?"]
    assert set(answers) == {"short", "fragmented", "long"}  # each answered once, scored or overtaken
    assert all("score" in answer or answer == {"id": key, "stale": True} for key, answer in answers.items())
    assert answers["long"]["score"] > 0.5


def test_a_frame_split_across_reads_is_answered(site):
    ws = RawWebsocket(site.port)
    frame = client_frame(message(1))
    ws.sock.sendall(frame[:3])
    time.sleep(0.3)
    ws.sock.sendall(frame[3:-5])
    time.sleep(0.3)
    ws.sock.sendall(frame[-5:] + client_frame(message(2)))
    answers, _ = ws.answers(until_id=2)
    assert "score" in answers[2]


def test_invalid_utf8_ends_that_connection_only(site):
    broken, visitor = RawWebsocket(site.port), RawWebsocket(site.port)
    broken.sock.sendall(client_frame(b'{"text": "caf\xe9", "id": 1}'))
    with pytest.raises((EOFError, ConnectionResetError)):  # autobahn drops a failed connection
        while True:
            opcode, payload = broken.frame()
            if opcode == 0x8:  # a close frame: 1007, invalid payload data
                assert int.from_bytes(payload[:2], "big") == 1007
    visitor.sock.sendall(client_frame(message("still here")))
    assert "score" in visitor.answers(until_id="still here")[0]["still here"]


def test_a_client_that_never_reads_its_answers_is_stopped_and_others_still_get_answers(site):
    origin = f"http://127.0.0.1:{site.port}"
    with connect(f"ws://127.0.0.1:{site.port}/ws/sentiment/", origin=origin) as visitor:
        assert "score" in score(visitor, 0)  # the model is loaded before memory is measured
        before = site.rss_mb()
        flooder = Flooder(site.port)
        flooder.start()
        peak, n = before, 0
        try:
            deadline = time.monotonic() + 60
            while not flooder.stopped_reading.is_set():
                assert time.monotonic() < deadline, "the server kept reading a client that reads none of its answers"
                n += 1
                assert "score" in score(visitor, n)
                peak = max(peak, site.rss_mb())
            for _ in range(5):  # and while it is held back, others are still answered
                n += 1
                assert "score" in score(visitor, n)
                peak = max(peak, site.rss_mb())
        finally:
            flooder.done.set()
            flooder.join(timeout=10)

    assert peak - before < 60, f"the server grew from {before:.0f} MB to {peak:.0f} MB"


def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(site):
    status, body = exchange(site.port, post_head("314572800"))

    assert status == 413
    assert body == error_json(
        status=413, code="payload_too_large", message=f"The request body is larger than {LIMIT} bytes."
    )


def test_a_declared_length_beyond_any_disk_is_refused_at_once(site):
    status, _body = exchange(site.port, post_head(str(10**20)))

    assert status == 413


def test_a_chunked_body_is_cut_off_at_the_limit(site):
    head = b"POST /api/predict/ HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"10000\r\n" + b"a" * 0x10000 + b"\r\n"

    status, body = exchange(site.port, head, [chunk] * (4 * LIMIT // 0x10000))

    assert status == 413
    assert json.loads(body)["error"]["code"] == "payload_too_large"


def test_a_body_in_flight_is_kept_in_memory_never_in_a_temporary_file(site):
    with socket.create_connection(("127.0.0.1", site.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/predict/ HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        # "100 Continue" comes once the server has made a place for the body (Twisted: a temporary file).
        assert sock.recv(64).startswith(b"HTTP/1.1 100 Continue")

        assert site.files_in_tmpdir() == []


def test_a_body_within_the_limit_is_served(site):
    body = json.dumps({"text": TEXT}).encode()
    head = post_head(str(len(body))).replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")

    status, answer = exchange(site.port, head + body)

    assert status == 200
    assert "score" in json.loads(answer)


def test_a_chunked_body_within_the_limit_is_served(site):
    body = json.dumps({"text": TEXT}).encode()
    head = b"POST /api/predict/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    head += b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    chunks = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)

    status, answer = exchange(site.port, head + chunks)

    assert status == 200
    assert "score" in json.loads(answer)


def test_an_over_long_request_line_is_answered_414(site):
    line = b"GET /api/reviews/?q=" + b"a" * 16384 + b" HTTP/1.1\r\n"

    status, body = exchange(site.port, line + b"Host: 127.0.0.1\r\n\r\n")

    assert status == 414
    assert json.loads(body)["error"]["code"] == "uri_too_long"


@pytest.mark.parametrize(
    "headers",
    [b"X-Big: " + b"a" * 300_000 + b"\r\n", b"".join(b"X-Header-%d: 1\r\n" % n for n in range(150))],
    ids=["a 300 KB header", "150 headers"],
)
def test_over_long_or_too_many_headers_are_answered_431(site, headers):
    status, body = exchange(site.port, b"GET /api/reviews/ HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + b"\r\n")

    assert status == 431
    assert json.loads(body)["error"]["code"] == "headers_too_large"


def test_two_hundred_simultaneous_connections_are_all_answered(site):
    sockets = [socket.create_connection(("127.0.0.1", site.port), timeout=30) for _ in range(200)]
    try:
        for sock in sockets:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        statuses = []
        for sock in sockets:
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
            statuses.append(int(answer.split(b" ", 2)[1]))
    finally:
        for sock in sockets:
            sock.close()

    assert statuses == [200] * 200
