"""Every page carries the security headers a browser needs to contain injected content."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_pages_forbid_inline_scripts_framing_and_sniffing(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_admin_keeps_inline_styles_but_never_inline_scripts(client):
    csp = client.get("/admin/login/").headers["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in csp
    assert "script-src 'self';" in csp
