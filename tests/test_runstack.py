"""`make run`'s process stack: embedded Redis, a worker and Daphne come up together and stop together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from core.stack import redis_answers
from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.slow


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except OSError:
        return 0


def test_one_interrupt_brings_the_whole_site_up_and_down(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_ENV"}}
    redis_url = f"redis://127.0.0.1:{free_port()}/0"
    env.update(SQLITE_PATH=str(tmp_path / "site.sqlite3"), STARLING_VAR_DIR=str(tmp_path / "var"), REDIS_URL=redis_url)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120)
    port = free_port()
    stack = subprocess.Popen(
        [sys.executable, "manage.py", "runstack", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while _get(f"http://127.0.0.1:{port}/admin/login/") != 200:
            assert stack.poll() is None, stack.stdout.read()
            assert time.monotonic() < deadline, "the site did not come up within 60 s"
            time.sleep(0.3)
        assert _get(f"http://127.0.0.1:{port}/") == 200
        assert redis_answers(redis_url)
        children = psutil.Process(stack.pid).children(recursive=True)
        commands = " ".join(" ".join(child.cmdline()) for child in children)
        assert "redis-server" in commands
        assert "jobworker" in commands
        assert "daphne" in commands

        stack.send_signal(signal.SIGINT)
        stack.wait(timeout=60)
        _gone, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, f"processes left behind: {alive}"
        assert not redis_answers(redis_url)
        output = stack.stdout.read()
        assert '"GET /admin/login/' not in output, "Daphne's access log (with client IPs) must be off"
    finally:
        if stack.poll() is None:
            stack.kill()
