"""Fault recovery under `manage.py runstack`: what happens when each child is killed (SIGKILL), and how long until
the site, the workers and the jobs are back.

    .venv/bin/python bench/fault_recovery.py [--remote-worker]

Starts `runstack` on free ports with a fresh SQLite file and its own embedded Redis, polls `/` and `/healthz`
every 50 ms from a thread throughout, and then:
1. worker: a two-minute job is running; SIGKILL of the worker. Reports failed page answers, the time until its
   work-horse is gone, until a new worker registers in RQ, until the run is marked failed, until a new job runs.
2. redis: SIGKILL of the embedded Redis. Reports failed page answers, the time until Redis answers again with
   the data it had, and until a new job runs.
3. web server: SIGKILL of Daphne (`manage.py serve`). Reports what the stack does (its message and exit
   status) and how long it takes to stop everything.
With --remote-worker (needs root for `unshare`): a worker with its own host name and pid namespace, as on
another machine, is killed mid-job while the stack's worker watches; reports the time until the run is marked
failed by the heartbeat lapse, under the default JOB_HEARTBEAT_TIMEOUT_SECONDS (60 s). Not run by `make test`.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from local_ports import free_port  # bench/local_ports.py (this folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except OSError:
        return 0


def wait_until(condition, timeout: float = 120.0, every: float = 0.05) -> float:
    """Seconds until `condition()` held (raises after `timeout`)."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"not within {timeout} s")
        time.sleep(every)
    return time.monotonic() - started


class Poller(threading.Thread):
    """Asks for / and /healthz every 50 ms; counts answers and keeps the failures."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base, self.ok, self.failed = base, 0, []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.05):
            for path in ("/", "/healthz"):
                code = status(self.base + path)
                if code == 200:
                    self.ok += 1
                else:
                    self.failed.append((time.monotonic(), path, code))

    def window(self) -> tuple[int, list]:
        """(answers so far, failures so far), and start counting afresh."""
        ok, failed = self.ok, self.failed
        self.ok, self.failed = 0, []
        return ok, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--remote-worker", action="store_true", help="also measure the heartbeat-lapse path")
    options = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="starling-faults-"))
    redis_url = f"redis://127.0.0.1:{free_port()}/0"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_ENV"}}
    env.update(
        SQLITE_PATH=str(workdir / "site.sqlite3"),
        STARLING_VAR_DIR=str(workdir / "var"),
        MEDIA_ROOT=str(workdir / "media"),
        REDIS_URL=redis_url,
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    os.environ.update(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)

    import django

    django.setup()
    import psutil
    import redis
    from rq import Worker

    from core.jobs import enqueue_run
    from core.stack import redis_answers
    from crawling.models import CrawlRun
    from tests.jobs_for_tests import horse_pid

    connection = redis.Redis.from_url(redis_url)

    def registered_workers() -> set[int]:
        try:
            return {worker.pid for worker in Worker.all(connection=connection)}
        except redis.RedisError:
            return set()

    def run_status(run: CrawlRun) -> str:
        run.refresh_from_db()
        return run.status

    def job_runs() -> float:
        run = CrawlRun.objects.create(params={"bench": "quick"})
        started = time.monotonic()
        enqueue_run(run, "tests.jobs_for_tests.quick_job", queue="default")
        wait_until(lambda: run_status(run) == "succeeded")
        return time.monotonic() - started

    def sleepy_run() -> tuple[CrawlRun, int]:
        run = CrawlRun.objects.create(params={"bench": "sleepy"})
        enqueue_run(run, "tests.jobs_for_tests.sleepy_job", queue="default")
        wait_until(lambda: horse_pid(run))
        return run, horse_pid(run)

    def stack_worker_registered(old_pid: int) -> bool:
        workers = [c for c in psutil.Process(stack.pid).children() if "jobworker" in " ".join(c.cmdline())]
        return any(w.pid != old_pid and w.pid in registered_workers() for w in workers)

    def gone(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    output = (workdir / "runstack.out").open("w")
    stack = subprocess.Popen(
        [sys.executable, "manage.py", "runstack", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"

    def child(marker: str) -> psutil.Process:
        return next(c for c in psutil.Process(stack.pid).children() if marker in " ".join(c.cmdline()))

    print(f"runstack on {base}, Redis {redis_url}, files in {workdir}")
    up = wait_until(lambda: status(base + "/healthz") == 200 and registered_workers())
    print(f"up (pages answering, a worker registered) in {up:.1f} s")
    poller = Poller(base)
    poller.start()
    remote = None
    try:
        # 1. The worker, mid-job.
        run, horse = sleepy_run()
        worker = child("jobworker")
        before = registered_workers()
        poller.window()
        killed = time.monotonic()
        worker.kill()
        t_horse = wait_until(lambda: gone(horse))
        wait_until(lambda: registered_workers() - before)
        t_worker = time.monotonic() - killed
        wait_until(lambda: run_status(run) == "failed")
        t_failed = time.monotonic() - killed
        t_job = job_runs()
        ok, failed = poller.window()
        print("\n[worker SIGKILL mid-job]")
        print(f"  page answers during: {ok} x 200, {len(failed)} failed")
        print(f"  work-horse gone after {t_horse:.2f} s")
        print(f"  new worker registered in RQ after {t_worker:.1f} s")
        print(f"  run marked failed after {t_failed:.1f} s: {run.error}")
        print(f"  a new job ran in {t_job:.2f} s (enqueue -> succeeded)")

        # 2. The embedded Redis.
        connection.set("bench:kept", "yes")
        connection.execute_command("BGREWRITEAOF")
        wait_until(lambda: connection.info("persistence")["aof_rewrite_in_progress"] == 0)
        redis_server = child("redis-server")
        poller.window()
        killed = time.monotonic()
        redis_server.kill()
        wait_until(lambda: redis_answers(redis_url))
        t_redis = time.monotonic() - killed
        kept = connection.get("bench:kept") == b"yes"
        t_job = job_runs()
        t_jobs_again = time.monotonic() - killed
        ok, failed = poller.window()
        print("\n[embedded Redis SIGKILL]")
        print(f"  page answers during: {ok} x 200, {len(failed)} failed")
        print(f"  Redis answering again after {t_redis:.1f} s, data kept: {kept}")
        print(f"  a new job succeeded {t_jobs_again:.1f} s after the kill (the job itself {t_job:.2f} s)")

        if options.remote_worker:
            # 2b. A worker "on another machine" (its own host name), killed mid-job; the stack's worker notices
            # only through the run's heartbeat lapsing. So that the job goes to the other worker, the stack is
            # paused with no worker of its own until the job has started there.
            stack.send_signal(signal.SIGSTOP)
            local = child("jobworker")
            local.kill()
            wait_until(lambda: gone(local.pid))
            command = f"hostname elsewhere && exec {sys.executable} manage.py rqworker default"
            remote = subprocess.Popen(  # its own host name and pid namespace, as on another machine
                ["unshare", "--uts", "--pid", "--fork", "--kill-child=SIGKILL", "sh", "-c", command],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                run, horse = sleepy_run()
            finally:
                stack.send_signal(signal.SIGCONT)
            wait_until(lambda: stack_worker_registered(local.pid))  # the stack's own worker is back
            killed = time.monotonic()
            remote.kill()
            remote.wait()
            wait_until(lambda: run_status(run) == "failed", timeout=300, every=0.5)
            print("\n[a worker on another host SIGKILLed mid-job, default heartbeat timeout]")
            print(f"  run marked failed after {time.monotonic() - killed:.1f} s: {run.error}")

        # 3. Daphne.
        poller.window()
        killed = time.monotonic()
        child("manage.py serve").kill()
        code = stack.wait(timeout=60)
        t_stop = time.monotonic() - killed
        print("\n[Daphne SIGKILL]")
        print(f"  the stack stopped after {t_stop:.1f} s with exit status {code}")
        lines = [line for line in (workdir / "runstack.out").read_text().splitlines() if "web server" in line]
        print(f"  its message: {lines[-1] if lines else '(none)'}")
    finally:
        poller.stopped.set()
        if remote is not None and remote.poll() is None:
            remote.kill()
        if stack.poll() is None:
            stack.send_signal(signal.SIGINT)
            stack.wait(timeout=60)
        output.close()


if __name__ == "__main__":
    main()
