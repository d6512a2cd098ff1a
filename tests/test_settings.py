"""Settings come from the environment, fail loudly on bad values, and production is locked down."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

from config.env import env_bool, env_int, env_list, secret_key_weakness
from tests.conftest import ROOT

PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "x" * 20 + "-production-secret-key-for-the-deploy-check-0123456789",
    "ALLOWED_HOSTS": "reviews.example.com",
    "DATABASE_URL": "postgres://starling:secret@db.example.com:5432/starling",
    "REDIS_URL": "redis://redis.example.com:6379/0",
}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DJANGO_ENV", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_env_bool_rejects_a_typo(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "ture")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG"):
        env_bool("SOME_FLAG")


def test_env_int_rejects_text_and_values_below_minimum(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", "ten")
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env_int("SOME_NUMBER", 1)
    monkeypatch.setenv("SOME_NUMBER", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env_int("SOME_NUMBER", 5, minimum=1)


def test_env_list_splits_on_commas(monkeypatch):
    monkeypatch.setenv("SOME_HOSTS", "a.example, b.example,,")
    assert env_list("SOME_HOSTS") == ["a.example", "b.example"]


@pytest.mark.slow  # a full `manage.py check --deploy` in a subprocess
def test_production_passes_the_deploy_check_with_no_warning():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_a_required_secret(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    env[missing] = ""
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert missing in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("SECRET_KEY", "a" * 50, "only 1 distinct characters"),
        ("SECRET_KEY", "abcde" * 12, "only 5 distinct characters"),
        ("SECRET_KEY", "django-insecure-" + "k3y-0f-a-d3v3l0pm3nt-s1t3-n0t-f0r-pr0duct10n!", "development key"),
        ("SECRET_KEY", "Short but varied: 0123456789!", "fewer than 50"),
        ("ALLOWED_HOSTS", "*", "refuses ALLOWED_HOSTS='*'"),
        ("ALLOWED_HOSTS", "reviews.example.com, *", "refuses ALLOWED_HOSTS='*'"),
    ],
    ids=["one-letter-key", "repeated-phrase-key", "development-key", "short-key", "wildcard", "wildcard-in-list"],
)
def test_production_refuses_to_start_with_a_weak_secret_or_any_host(variable, value, reason):
    result = run_manage("check", env={**PRODUCTION_ENV, variable: value})
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured: DJANGO_ENV=production")
    assert variable in last_line and reason in last_line
    assert value not in result.stderr or variable == "ALLOWED_HOSTS"  # the secret itself is never printed


def test_a_random_key_is_strong_enough():
    assert secret_key_weakness(secrets.token_urlsafe(60)) is None
    assert secret_key_weakness(get_random_secret_key()) is None  # what `startproject` writes


def test_a_bad_value_stops_start_up_with_its_name():
    result = run_manage("check", env={"DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DEBUG='maybe'" in result.stderr


@pytest.mark.slow  # migrates a new database in a subprocess
def test_a_fresh_checkout_creates_the_sqlite_folder(tmp_path):
    database = tmp_path / "not" / "yet" / "there" / "starling.sqlite3"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        cwd=ROOT,
        env={**env, "SQLITE_PATH": str(database)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert database.exists()
