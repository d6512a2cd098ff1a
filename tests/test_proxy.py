"""The production reverse proxy (deploy/nginx/starling.conf.template) in front of the real web server.

A real nginx, run as the current user with the template rendered as the nginx image renders it, on
TLS with a throwaway certificate; behind it the web server as `runstack` and Compose start it, told
to trust exactly one proxy (API_TRUSTED_PROXIES=1). Clients connect from several loopback addresses
(127.0.0.2, 127.0.0.3, ...), so the address nginx names in X-Forwarded-For can be told apart from
nginx's own (127.0.0.1).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import ssl
import string
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.sync.client import connect

from core.errors import error_json
from core.server import daphne_command
from tests.conftest import ROOT, free_port

NGINX = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
OPENSSL = shutil.which("openssl")
TEMPLATE = ROOT / "deploy" / "nginx" / "starling.conf.template"
LIMIT = 1024 * 1024  # MAX_REQUEST_BODY_BYTES's default

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (NGINX and OPENSSL), reason="nginx and openssl are not installed (.ci/run installs them)"),
]


@dataclass
class Proxy:
    http_port: int
    https_port: int
    tls: ssl.SSLContext

    def connection(self, source: str) -> http.client.HTTPSConnection:
        """An HTTPS connection to the proxy from the loopback address `source`."""
        return http.client.HTTPSConnection(
            "127.0.0.1", self.https_port, context=self.tls, source_address=(source, 0), timeout=30
        )

    def raw(self, source: str, request: bytes) -> tuple[int, bytes]:
        """Send `request` as it is over TLS (nothing more); the status and body of the answer."""
        tcp = socket.create_connection(("127.0.0.1", self.https_port), timeout=30, source_address=(source, 0))
        with self.tls.wrap_socket(tcp, server_hostname="127.0.0.1") as sock:
            sock.sendall(request)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        return int(head.split(b" ", 2)[1]), body


def _wait_for(port: int, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            assert process.poll() is None, f"{what} exited with status {process.returncode}"
            assert time.monotonic() < deadline, f"{what} did not come up within 60 s"
            time.sleep(0.2)


def nginx_config(workdir: Path, web_port: int, http_port: int, https_port: int, cert: Path, key: Path) -> Path:
    """The site template rendered as the nginx image renders it, inside a main config that runs as this user."""
    site = string.Template(TEMPLATE.read_text(encoding="utf-8")).safe_substitute(
        STARLING_WEB=f"127.0.0.1:{web_port}",
        MAX_REQUEST_BODY_BYTES=str(LIMIT),
        NGINX_HTTP_PORT=f"127.0.0.1:{http_port}",
        NGINX_HTTPS_PORT=f"127.0.0.1:{https_port}",
        TLS_CERTIFICATE=str(cert),
        TLS_CERTIFICATE_KEY=str(key),
    )
    (workdir / "starling.conf").write_text(site, encoding="utf-8")
    temp_paths = "\n".join(
        f"    {kind}_temp_path {workdir / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = workdir / "nginx.conf"
    main.write_text(
        f"""{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
daemon off;
pid {workdir / "nginx.pid"};
error_log {workdir / "error.log"} warn;
events {{ worker_connections 512; }}
http {{
{temp_paths}
    include {workdir / "starling.conf"};
}}
""",
        encoding="utf-8",
    )
    return main


@pytest.fixture(scope="module")
def proxy(redis_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Proxy:
    workdir = tmp_path_factory.mktemp("proxy")
    cert, key = workdir / "fullchain.pem", workdir / "privkey.pem"
    subprocess.run(
        [
            *(OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
            *("-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_ENV"}}
    env.update(
        SQLITE_PATH=str(workdir / "site.sqlite3"),
        MEDIA_ROOT=str(workdir / "media"),
        REDIS_URL=redis_server_url,
        API_TRUSTED_PROXIES="1",
        THROTTLE_PREDICT="2/min",
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120)
    import redis

    redis.Redis.from_url(redis_server_url).flushdb()  # no budget left over from another module
    web_port, http_port, https_port = free_port(), free_port(), free_port()
    config = nginx_config(workdir, web_port, http_port, https_port, cert, key)
    web = subprocess.Popen(
        daphne_command("127.0.0.1", web_port), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    nginx = subprocess.Popen([NGINX, "-p", str(workdir), "-c", str(config), "-e", str(workdir / "error.log")])
    try:
        _wait_for(web_port, web, "the web server")
        _wait_for(https_port, nginx, "nginx")
        yield Proxy(http_port=http_port, https_port=https_port, tls=ssl.create_default_context(cafile=cert))
    finally:
        for process in (nginx, web):
            process.terminate()
            process.wait(timeout=15)


def predict(proxy: Proxy, source: str, headers: dict[str, str] | None = None) -> int:
    connection = proxy.connection(source)
    try:
        body = json.dumps({"text": "The boots fit well and arrived on time."})
        connection.request("POST", "/api/predict/", body, {"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_plain_http_is_redirected_to_https(proxy):
    connection = http.client.HTTPConnection("127.0.0.1", proxy.http_port, timeout=10)
    connection.request("GET", "/brands/?page=2")
    response = connection.getresponse()

    assert response.status == 301
    assert response.getheader("Location") == "https://127.0.0.1/brands/?page=2"


def test_a_page_is_served_through_the_proxy_over_https(proxy):
    connection = proxy.connection("127.0.0.5")
    connection.request("GET", "/")
    response = connection.getresponse()
    page = response.read().decode()

    assert response.status == 200
    assert "<html" in page.lower()


def test_the_predict_api_answers_through_the_proxy(proxy):
    assert predict(proxy, "127.0.0.6") == 200


def test_the_live_score_websocket_is_upgraded_through_the_proxy(proxy):
    origin = f"https://127.0.0.1:{proxy.https_port}"
    with connect(f"wss://127.0.0.1:{proxy.https_port}/ws/sentiment/", ssl=proxy.tls, origin=origin) as ws:
        ws.send(json.dumps({"text": "Lovely boots, quick delivery.", "id": 1}))
        answer = json.loads(ws.recv(timeout=60))

    assert answer["id"] == 1
    assert 0 <= answer["score"] <= 1


def test_the_client_named_by_the_proxy_is_the_one_throttled_and_its_own_claim_is_ignored(proxy):
    # THROTTLE_PREDICT is 2/min: the third text from 127.0.0.2 is refused...
    assert [predict(proxy, "127.0.0.2") for _ in range(3)] == [200, 200, 429]
    # ...though every request reaches the web server from nginx's own 127.0.0.1, another client is served,
    assert predict(proxy, "127.0.0.3") == 200
    # and the throttled one cannot pass for another by naming it: nginx replaces X-Forwarded-For.
    assert predict(proxy, "127.0.0.2", {"X-Forwarded-For": "127.0.0.4"}) == 429


def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(proxy):
    head = (
        b"POST /api/predict/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 314572800\r\n\r\n"
    )

    status, body = proxy.raw("127.0.0.7", head)

    assert status == 413
    assert body == error_json(
        status=413, code="payload_too_large", message=f"The request body is larger than {LIMIT} bytes."
    )


def test_an_oversized_header_is_answered_431(proxy):
    request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 300_000 + b"\r\n\r\n"

    status, _body = proxy.raw("127.0.0.8", request)

    assert status == 431


def test_an_over_long_request_line_is_answered_414(proxy):
    request = b"GET /?q=" + b"a" * 16384 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

    status, _body = proxy.raw("127.0.0.8", request)

    assert status == 414
