"""With the database unreachable, visitors and API clients get a clear 503, not a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.slow  # a Django process that tries the database until it gives up

SCRIPT = """
import json, django
django.setup()
from django.test import Client
client = Client(raise_request_exception=False)
out = {}
for path, accept in (("/", "text/html"), ("/api/brands/", "application/json")):
    r = client.get(path, HTTP_ACCEPT=accept)
    out[path] = {"status": r.status_code, "retry": r.headers.get("Retry-After"), "body": r.content.decode()[:2000]}
print(json.dumps(out))
"""


def test_pages_and_api_answer_503_when_the_database_is_unreachable():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://starling:nope@127.0.0.1:{free_port()}/starling",
        "DB_CONN_MAX_AGE": "0",
        "ALLOWED_HOSTS": "testserver",
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    page = answers["/"]
    assert page["status"] == 503
    assert page["retry"] == "30"
    assert "temporarily unavailable" in page["body"]
    assert "Traceback" not in page["body"]
    api = answers["/api/brands/"]
    assert api["status"] == 503
    assert json.loads(api["body"])["error"]["status"] == 503
