"""docker-compose.yml, the Dockerfile and .env.example agree with the code (no Docker engine needed)."""

from __future__ import annotations

import re
import shlex
from urllib.parse import urlsplit

import pytest
import yaml
from django.core.management import get_commands
from django.urls import resolve

from core.queues import QUEUES
from core.server import HEADERS_MAX_BYTES, LINE_MAX_BYTES
from tests.conftest import ROOT

APP_SERVICES = ("migrate", "web", "worker")  # services that run Starling's own image
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, dict] = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
NGINX_TEMPLATE = (ROOT / "deploy" / "nginx" / "starling.conf.template").read_text(encoding="utf-8")
ENV_EXAMPLE = (ROOT / ".env.example").read_text(encoding="utf-8")


def settings_variables() -> set[str]:
    """Every environment variable config/settings.py reads through the config.env helpers."""
    source = (ROOT / "config" / "settings.py").read_text(encoding="utf-8")
    return set(re.findall(r'env_\w+\(\s*"([A-Z][A-Z0-9_]*)"', source))


def example_variables() -> set[str]:
    """Variables .env.example sets or documents (`NAME=` or `# NAME=`)."""
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE, flags=re.MULTILINE))


def interpolated_variables() -> set[str]:
    """Variables docker-compose.yml takes from .env (`${NAME}`, `${NAME:-default}`, `${NAME:?message}`)."""
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    return set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", text))


def command_words(service: dict) -> list[list[str]]:
    """A service's command as argv lists; `sh -c "a && b"` gives one list per step."""
    command = service.get("command", [])
    words = shlex.split(command) if isinstance(command, str) else list(command)
    if words[:2] == ["sh", "-c"]:
        return [shlex.split(step) for step in words[2].split("&&")]
    return [words]


def test_the_six_services_and_a_one_shot_migration_exist():
    assert set(SERVICES) == {"nginx", "web", "worker", "postgres", "redis", "selenium", "migrate"}
    assert SERVICES["nginx"]["image"].startswith("nginx:")
    assert SERVICES["selenium"]["image"].startswith("selenium/standalone-chromium:")
    assert SERVICES["postgres"]["image"].startswith("postgres:")
    assert SERVICES["redis"]["image"].startswith("redis:")


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_command_names_a_real_management_command_or_module(name):
    commands = get_commands()
    for argv in command_words(SERVICES[name]):
        if argv[:2] == ["python", "manage.py"]:
            assert argv[2] in commands, f"{name}: no management command {argv[2]!r}"
        else:
            pytest.fail(f"{name}: unexpected command {argv}")


def test_the_worker_serves_every_configured_queue(settings):
    argv = command_words(SERVICES["worker"])[0]

    # `jobworker` with no queue named listens on every queue of the registry that RQ_QUEUES is built from.
    assert argv[:3] == ["python", "manage.py", "jobworker"]
    assert [word for word in argv[3:] if not word.startswith("-")] == []
    assert set(QUEUES) == set(settings.RQ_QUEUES)


def test_the_worker_can_be_scaled():
    worker = SERVICES["worker"]

    assert "container_name" not in worker
    assert "ports" not in worker


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_set_only_variables_the_settings_read(name):
    service = SERVICES[name]

    unknown = set(service["environment"]) - settings_variables()

    assert not unknown, f"{name} sets {sorted(unknown)}, which config/settings.py never reads"
    assert service["env_file"] == ".env"
    assert service["environment"]["DJANGO_ENV"] == "production"


def test_app_services_find_postgres_redis_and_selenium_by_service_name():
    environment = SERVICES["web"]["environment"]
    database = urlsplit(re.sub(r"\$\{[^}]*\}", "x", environment["DATABASE_URL"]))
    redis = urlsplit(environment["REDIS_URL"])
    selenium = urlsplit(environment["SELENIUM_REMOTE_URL"])

    assert (database.scheme, database.hostname, database.port) == ("postgres", "postgres", 5432)
    assert (redis.hostname, redis.port) == ("redis", 6379)
    assert (selenium.hostname, selenium.port) == ("selenium", 4444)
    assert SERVICES["worker"]["environment"] == environment


def test_only_nginx_publishes_ports_and_it_reaches_the_port_the_web_server_listens_on():
    argv = command_words(SERVICES["web"])[0]
    port = argv[argv.index("--port") + 1]

    assert argv[:3] == ["python", "manage.py", "serve"]
    assert argv[argv.index("--host") + 1] == "0.0.0.0"
    assert "ports" not in SERVICES["web"]
    assert SERVICES["web"]["expose"] == [port]
    assert SERVICES["nginx"]["environment"]["STARLING_WEB"] == f"web:{port}"
    assert f"EXPOSE {port}" in DOCKERFILE
    assert f'CMD ["python", "manage.py", "serve", "--host", "0.0.0.0", "--port", "{port}"]' in DOCKERFILE
    published = {mapping.rsplit(":", 1)[1] for mapping in SERVICES["nginx"]["ports"]}
    environment = SERVICES["nginx"]["environment"]
    assert published == {environment["NGINX_HTTP_PORT"], environment["NGINX_HTTPS_PORT"]}


def test_the_app_trusts_exactly_the_one_proxy_in_front_of_it():
    environment = SERVICES["web"]["environment"]

    assert environment["API_TRUSTED_PROXIES"] == "1"
    assert environment["TRUST_X_FORWARDED_PROTO"] == "true"
    # nginx replaces X-Forwarded-For with the address it saw, so the one trusted hop is the client.
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in NGINX_TEMPLATE
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in NGINX_TEMPLATE


def test_nginx_fills_in_every_name_its_template_uses_and_mounts_the_certificates():
    nginx = SERVICES["nginx"]
    names = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", NGINX_TEMPLATE))

    assert names == set(nginx["environment"])
    assert "./deploy/nginx/starling.conf.template:/etc/nginx/templates/default.conf.template:ro" in nginx["volumes"]
    certs = next(mount for mount in nginx["volumes"] if ":/etc/nginx/certs" in mount)
    assert nginx["environment"]["TLS_CERTIFICATE"].startswith("/etc/nginx/certs/")
    assert nginx["environment"]["TLS_CERTIFICATE_KEY"].startswith("/etc/nginx/certs/")
    assert certs.startswith("${TLS_CERTS_DIR")


def test_nginx_limits_match_the_web_server_and_the_settings(settings):
    buffers, size_k = re.search(r"large_client_header_buffers (\d+) (\d+)k;", NGINX_TEMPLATE).groups()

    assert int(size_k) * 1024 == LINE_MAX_BYTES
    assert int(buffers) * int(size_k) * 1024 == HEADERS_MAX_BYTES
    assert "client_max_body_size ${MAX_REQUEST_BODY_BYTES};" in NGINX_TEMPLATE
    body_limit = SERVICES["nginx"]["environment"]["MAX_REQUEST_BODY_BYTES"]
    assert body_limit == f"${{MAX_REQUEST_BODY_BYTES:-{settings.DATA_UPLOAD_MAX_MEMORY_SIZE}}}"


def test_named_volumes_are_declared_and_used():
    declared = set(COMPOSE["volumes"])
    used = {
        mount.split(":", 1)[0]
        for service in SERVICES.values()
        for mount in service.get("volumes", [])
        if not mount.startswith((".", "/", "$"))  # bind mounts: paths, or a path from .env
    }

    assert used == declared
    media_mount = next(m for m in SERVICES["web"]["volumes"] if m.startswith("media:"))
    assert media_mount.split(":")[1] == SERVICES["web"]["environment"]["MEDIA_ROOT"]
    assert any(m.endswith(":/var/lib/postgresql/data") for m in SERVICES["postgres"]["volumes"])


def test_every_long_running_service_has_a_health_check_that_parses():
    for name, service in SERVICES.items():
        if name == "migrate":
            assert service["restart"] == "no"
            continue
        test = service["healthcheck"]["test"]
        assert test[0] in ("CMD", "CMD-SHELL"), name
        if test[1:3] == ["python", "-c"]:
            compile(test[3], f"<{name} healthcheck>", "exec")


def test_the_web_health_check_calls_a_real_health_endpoint():
    code = SERVICES["web"]["healthcheck"]["test"][3]
    path = urlsplit(re.search(r"http://127\.0\.0\.1:\d+(/\S*?)'", code).group(0).rstrip("'")).path

    assert resolve(path).url_name == "healthz"


def test_dependencies_name_existing_services_and_wait_for_health():
    for name, service in SERVICES.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in SERVICES, f"{name} depends on unknown service {dependency}"
            expected = "service_completed_successfully" if dependency == "migrate" else "service_healthy"
            assert condition["condition"] == expected


def test_env_example_documents_every_setting_and_every_compose_variable():
    documented = example_variables()

    missing_settings = settings_variables() - documented
    missing_compose = interpolated_variables() - documented

    assert not missing_settings, f"add {sorted(missing_settings)} to .env.example (config/settings.py reads them)"
    assert not missing_compose, f"add {sorted(missing_compose)} to .env.example (docker-compose.yml uses them)"
    assert not documented - settings_variables() - interpolated_variables(), "stale names in .env.example"


def test_the_image_installs_cpu_torch_before_the_requirements():
    torch_line = DOCKERFILE.index("pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu")

    assert torch_line < DOCKERFILE.index("pip install -r requirements.txt")
    assert "torch==2.13.0\n" in (ROOT / "requirements.txt").read_text(encoding="utf-8")
    assert "collectstatic" in DOCKERFILE
    assert re.search(r"^USER (?!root)\w+", DOCKERFILE, flags=re.MULTILINE)


def test_the_build_context_leaves_out_local_state_and_secrets():
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())

    assert {".git", ".venv", ".env", "var", "media", "*.sqlite3"} <= ignored


def test_the_web_server_takes_its_limits_from_the_settings_not_from_its_command_line():
    # `manage.py serve` reads WEBSOCKET_MAX_MESSAGE_BYTES and MAX_REQUEST_BODY_BYTES from the settings,
    # which read .env, so the command line cannot disagree with them.
    argv = command_words(SERVICES["web"])[0]

    assert not any(word.startswith("--websocket") for word in argv)
