"""`make run`'s process stack: embedded Redis, a worker and Daphne come up together, survive the loss of a worker
or of Redis while the site keeps serving, and stop together."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import psutil
import pytest
import redis
from rq import Worker

from core.jobs import enqueue_run
from core.stack import redis_answers
from crawling.models import CrawlRun
from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.slow

POSITIVE = "Wonderful service, friendly staff and a great price. I love it!"


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except OSError:
        return 0


def wait_until(condition, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.1)
    return result


@dataclass
class RunningStack:
    process: subprocess.Popen
    port: int
    redis_url: str
    var_dir: Path
    output_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def child(self, marker: str) -> psutil.Process | None:
        """The stack's direct child whose command line contains `marker`."""
        for child in psutil.Process(self.process.pid).children():
            try:
                if marker in " ".join(child.cmdline()):
                    return child
            except psutil.NoSuchProcess:
                continue
        return None

    def registered_worker_pids(self) -> set[int]:
        try:
            return {worker.pid for worker in Worker.all(connection=redis.Redis.from_url(self.redis_url))}
        except redis.RedisError:
            return set()

    def score(self, text: str) -> dict:
        """One live score over a fresh websocket connection, as a visitor's page asks for it."""

        async def ask() -> dict:
            url, headers = f"ws://127.0.0.1:{self.port}/ws/sentiment/", {"Origin": self.url}
            async with aiohttp.ClientSession() as session, session.ws_connect(url, headers=headers) as ws:
                await ws.send_json({"text": text, "id": 1})
                return json.loads((await ws.receive(timeout=10)).data)

        return asyncio.run(ask())


@pytest.fixture
def stack(subprocess_env, settings, tmp_path):
    """`manage.py runstack` on free ports with its own embedded Redis, the test's database, and RQ pointed at it."""
    redis_url = f"redis://127.0.0.1:{free_port()}/0"
    env = {**subprocess_env, "REDIS_URL": redis_url, "STARLING_VAR_DIR": str(tmp_path / "var")}
    env.pop("DJANGO_ENV", None)
    before = {name: queue["URL"] for name, queue in settings.RQ_QUEUES.items()}
    for queue in settings.RQ_QUEUES.values():  # django-rq keeps its own reference to these dicts
        queue["URL"] = redis_url
    port = free_port()
    output_path = tmp_path / "runstack.out"
    with output_path.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runstack", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
    running = RunningStack(process, port, redis_url, tmp_path / "var", output_path)
    try:
        deadline = time.monotonic() + 60
        while _get(f"{running.url}/healthz") != 200 or not running.registered_worker_pids():
            assert process.poll() is None, running.output()
            assert time.monotonic() < deadline, "the site did not come up within 60 s"
            time.sleep(0.2)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        for name, queue in settings.RQ_QUEUES.items():
            queue["URL"] = before[name]


class Availability:
    """Asks for / and /healthz every 100 ms from a thread and keeps what did not answer 200."""

    def __init__(self, url: str) -> None:
        self.url, self.failures, self.answered = url, [], 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.1):
            for path in ("/", "/healthz"):
                status = _get(self.url + path)
                self.answered += status == 200
                if status != 200:
                    self.failures.append((round(time.monotonic(), 2), path, status))

    def __enter__(self) -> Availability:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def a_job_runs(stack: RunningStack) -> None:
    run = CrawlRun.objects.create(params={"note": "after a restart"})
    enqueue_run(run, "tests.jobs_for_tests.quick_job", queue="default")

    def succeeded() -> bool:
        run.refresh_from_db()
        return run.status == CrawlRun.Status.SUCCEEDED

    wait_until(succeeded, "the job running on the stack's worker")


def test_one_interrupt_brings_the_whole_site_up_and_down(stack):
    assert _get(f"{stack.url}/") == 200
    assert redis_answers(stack.redis_url)
    children = psutil.Process(stack.process.pid).children(recursive=True)
    commands = " ".join(" ".join(child.cmdline()) for child in children)
    assert "redis-server" in commands
    assert "jobworker" in commands
    assert "manage.py serve" in commands  # the web server: Daphne with Starling's connection limits

    stack.process.send_signal(signal.SIGINT)
    stack.process.wait(timeout=60)
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"processes left behind: {alive}"
    assert not redis_answers(stack.redis_url)
    output = stack.output()
    assert '"GET /healthz' not in output, "Daphne's access log (with client IPs) must be off"
    # Redis's banner and its memory-overcommit warning go to its log file, named on the console.
    redis_log = stack.var_dir / "log" / "redis.log"
    assert f"log in {redis_log}" in output
    assert "Redis is starting" not in output and "overcommit" not in output
    assert "Redis is starting" in redis_log.read_text()


def test_a_killed_worker_comes_back_while_the_site_keeps_serving(stack):
    worker = stack.child("jobworker")
    with Availability(stack.url) as site:
        worker.kill()
        worker.wait(timeout=10)
        # A new worker, registered in RQ, in a few seconds; the old one's registration lapses on its own.
        wait_until(lambda: stack.registered_worker_pids() - {worker.pid}, "a new worker registering")
    assert site.answered and not site.failures, site.failures
    assert stack.process.poll() is None
    assert "worker-1 exited (killed by SIGKILL); starting it again in 1 s" in stack.output()
    a_job_runs(stack)


def test_a_killed_redis_comes_back_with_its_data_while_pages_and_live_scores_go_on(stack):
    queues = redis.Redis.from_url(stack.redis_url)
    queues.set("starling:kept", "yes")
    queues.execute_command("BGREWRITEAOF")  # on disk now, not within the next second
    wait_until(lambda: queues.info("persistence")["aof_rewrite_in_progress"] == 0, "the AOF rewrite")
    redis_server = stack.child("redis-server")
    with Availability(stack.url) as site:
        # The supervisor is paused while Redis is down, so the outage lasts as long as the checks need.
        stack.process.send_signal(signal.SIGSTOP)
        try:
            redis_server.kill()
            wait_until(lambda: not redis_answers(stack.redis_url), "Redis going away", timeout=5)
            assert _get(f"{stack.url}/") == 200
            answer = stack.score(POSITIVE)
            assert answer["id"] == 1 and answer["label"] == "good"
            assert not redis_answers(stack.redis_url)
        finally:
            stack.process.send_signal(signal.SIGCONT)
        wait_until(lambda: redis_answers(stack.redis_url), "Redis answering again")
    assert site.answered and not site.failures, site.failures
    assert stack.process.poll() is None
    assert redis.Redis.from_url(stack.redis_url).get("starling:kept") == b"yes"
    assert "redis exited (killed by SIGKILL)" in stack.output()
    a_job_runs(stack)


def test_a_killed_web_server_stops_the_stack_with_a_clear_message(stack):
    children = psutil.Process(stack.process.pid).children(recursive=True)
    stack.child("manage.py serve").kill()
    assert stack.process.wait(timeout=30) != 0
    assert "The web server exited (killed by SIGKILL); stopping Starling." in stack.output()
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"processes left behind: {alive}"


def test_a_port_in_use_is_refused_with_what_to_do(tmp_path):
    env = {**os.environ, "STARLING_VAR_DIR": str(tmp_path / "var"), "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "manage.py", "runstack", "--port", str(port)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode != 0
    assert f"Port {port} on 127.0.0.1 is in use; choose another with make run PORT=" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "var" / "redis").exists(), "nothing may start before the port is checked"
