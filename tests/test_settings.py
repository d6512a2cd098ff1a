"""Settings come from the environment, fail loudly on bad values, and production is locked down."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list
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
