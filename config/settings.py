"""Starling settings: one module, every deployment-specific value read from the environment.

Defaults run as they are (SQLite, in-process cache, DEBUG off). `DJANGO_ENV=production` turns on
the secure settings and refuses to start without SECRET_KEY and ALLOWED_HOSTS.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_choice, env_float, env_int, env_list, env_str, secret_key_weakness
from core.queues import DEFAULT_REDIS_URL, rq_queues_setting

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("STARLING_VAR_DIR", str(BASE_DIR / "var")))

DJANGO_ENV = env_choice("DJANGO_ENV", ("development", "production"), "development")
PRODUCTION = DJANGO_ENV == "production"
DEBUG = env_bool("DEBUG", False)

_DEV_SECRET_KEY = "django-insecure-starling-development-key-never-use-in-production"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY", "" if PRODUCTION else _DEV_SECRET_KEY)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

if PRODUCTION:
    if weakness := secret_key_weakness(SECRET_KEY):
        raise ImproperlyConfigured(
            f"DJANGO_ENV=production refuses this SECRET_KEY: {weakness}. Set SECRET_KEY to at least 50 "
            "random characters (python -c 'import secrets; print(secrets.token_urlsafe(60))')."
        )
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "DJANGO_ENV=production needs ALLOWED_HOSTS: the host names the site answers to, comma-separated."
        )
    if "*" in ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "DJANGO_ENV=production refuses ALLOWED_HOSTS='*' (any Host header would be accepted): set "
            "ALLOWED_HOSTS to the host names the site answers to, comma-separated ('.example.com' for sub-domains)."
        )
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off when DJANGO_ENV=production.")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_rq",
    "core.apps.CoreConfig",
    "brands",
    "reviews",
    "crawling",
    "ml",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.SecurityHeadersMiddleware",
    "core.middleware.NullCharacterGuard",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.DatabaseUnavailableMiddleware",
    "core.rq_dashboard.JobQueueDashboardMiddleware",
    "core.login_throttle.LoginThrottleMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: SQLite file by default, anything dj-database-url understands via DATABASE_URL.
DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    SQLITE_PATH = Path(env_str("SQLITE_PATH", str(VAR_DIR / "starling.sqlite3")))
    # SQLite creates the file but not its folder: a fresh clone has no var/ yet.
    SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(SQLITE_PATH),
            # WAL + IMMEDIATE transactions let the web process and the worker write side by side
            # without "database is locked" errors under load.
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: RQ queues, the Channels layer and the cache. `make run` starts an embedded Redis on the
# default URL; without REDIS_URL the cache and channel layer stay in-process so pages never need it.
REDIS_URL = env_str("REDIS_URL", "")
RQ_QUEUES = rq_queues_setting(REDIS_URL or DEFAULT_REDIS_URL)
RQ_SHOW_ADMIN_LINK = True
RQ = {"WORKER_CLASS": "core.worker.StarlingWorker"}
# A job's run whose heartbeat (beaten every sixth of this) lapses this long is marked failed as abandoned;
# every worker checks on that timer, so a killed worker's run is failed within this plus a sixth (70 s).
JOB_HEARTBEAT_TIMEOUT_SECONDS = env_int("JOB_HEARTBEAT_TIMEOUT_SECONDS", 60, minimum=3)

if REDIS_URL:
    # django-redis rather than Django's own Redis cache: with IGNORE_EXCEPTIONS a Redis outage turns
    # cache reads into misses instead of 500s, so pages, predictions and reviews keep working.
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "starling",
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    # Not one traceback per request during an outage: /readyz reports it, and core.rate_limits warns once a minute.
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = False
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Outside production, serve static files straight from the apps so no collectstatic is needed.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG

# Security. Production turns everything on; behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env_bool("TRUST_X_FORWARDED_PROTO", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Staff sign-in: this many failures per IP and user name within the window, then 429 until it passes.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 900, minimum=1)

# Visitors' IPs are stored only as a salted hash; the salt defaults to one derived from SECRET_KEY.
IP_HASH_SALT = env_str("IP_HASH_SALT", "")

# Proxies in front of the site whose X-Forwarded-For is trusted to name the client (0: use the socket's address).
# Every reader of the client's address (API throttles, the review form, sign-in throttling) goes
# through core.privacy.client_ip, which honours this.
TRUSTED_PROXIES = env_int("API_TRUSTED_PROXIES", 0, minimum=0)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "core.api_limits.ApiPagination",
    "PAGE_SIZE": 20,
    # Strict JSON both ways: nested too deep, NaN or Infinity in a request is a 400 (core/api_parsers.py),
    # and an answer never holds a non-finite number.
    "DEFAULT_PARSER_CLASSES": ["core.api_parsers.StrictJSONParser"],
    "STRICT_JSON": True,
    "EXCEPTION_HANDLER": "core.api_errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["core.api_limits.ScopedThrottle"],
    "NUM_PROXIES": TRUSTED_PROXIES,
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    # Budgets per client address, counted by core.rate_limits: `predict` is shared by POST /api/predict/
    # and the live-scoring websocket; `review_create` is the one review budget of every route that
    # writes reviews (the form and the API), applied by reviews.services.user_review_create.
    "DEFAULT_THROTTLE_RATES": {
        "predict": env_str("THROTTLE_PREDICT", "600/min"),
        "review_create": env_str("THROTTLE_REVIEW_CREATE", "30/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Starling API",
    "DESCRIPTION": "Brand reviews with live sentiment suggestions.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    # No validator badge: the docs page must not call swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Request size: bodies over this are refused with 413 before they are read (core/server.py, the web server
# `manage.py serve` runs; core/asgi_limits.py under any other ASGI server), and Django's own check uses the
# same figure. Websocket messages over WEBSOCKET_MAX_MESSAGE_BYTES are refused by the same web server, which
# core/stack.py (`make run`) and docker-compose.yml start.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BODY_BYTES", 1024 * 1024, minimum=1024)
WEBSOCKET_MAX_MESSAGE_BYTES = env_int("WEBSOCKET_MAX_MESSAGE_BYTES", 64 * 1024, minimum=1024)

# Machine learning.
ML_MODELS_DIR = MEDIA_ROOT / "models"
TORCH_THREADS = env_int("TORCH_THREADS", 1, minimum=1)
PREDICTION_MAX_CHARS = env_int("PREDICTION_MAX_CHARS", 5000, minimum=1)
# Served while no model version is active (ml/shipped.py): empty for the model shipped in
# ml/default_model/, a path to another file `manage.py build_default_model` wrote, or "off" (the lexicon).
DEFAULT_MODEL = env_str("STARLING_DEFAULT_MODEL", "")
# Live scoring: each websocket connection may send this many messages a second on average, and a
# burst of this many at once (a fast typist with a 100 ms debounce sends at most 10 a second).
SENTIMENT_WS_RATE = env_float("SENTIMENT_WS_RATE", 20.0)
SENTIMENT_WS_BURST = env_int("SENTIMENT_WS_BURST", 40, minimum=1)
# A connection that had more than this many messages refused within 10 s is closed (code 4008).
SENTIMENT_WS_REFUSED_BEFORE_CLOSE = env_int("SENTIMENT_WS_REFUSED_BEFORE_CLOSE", 20, minimum=1)
# Connections one address may hold at once (all processes, through Redis); the texts they score share
# the address's THROTTLE_PREDICT budget with POST /api/predict/.
SENTIMENT_WS_CONNECTIONS_PER_ADDRESS = env_int("SENTIMENT_WS_CONNECTIONS_PER_ADDRESS", 8, minimum=1)

# Reviews written by visitors.
REVIEW_MIN_CHARS = env_int("REVIEW_MIN_CHARS", 10, minimum=1)
REVIEW_MAX_CHARS = env_int("REVIEW_MAX_CHARS", 5000, minimum=1)

# Crawling.
CRAWL_USER_AGENT = env_str(
    "CRAWL_USER_AGENT", "StarlingBot/1.0 (+https://github.com/starling-reviews/starling; research crawler)"
)
CRAWL_OBEY_ROBOTS = env_bool("CRAWL_OBEY_ROBOTS", True)
CRAWL_CONCURRENCY = env_int("CRAWL_CONCURRENCY", 8, minimum=1)
CRAWL_DOWNLOAD_DELAY = env_float("CRAWL_DOWNLOAD_DELAY", 0.0)
CRAWL_DOWNLOAD_TIMEOUT = env_float("CRAWL_DOWNLOAD_TIMEOUT", 30.0)
CRAWL_RENDER_TIMEOUT = env_float("CRAWL_RENDER_TIMEOUT", 20.0)  # seconds a listing page may take to render
CRAWL_MAX_RETRIES = env_int("CRAWL_MAX_RETRIES", 3, minimum=0)
CRAWL_MAX_RETRY_AFTER = env_float("CRAWL_MAX_RETRY_AFTER", 120.0)  # longest Retry-After honoured, seconds
CRAWL_DOWNLOAD_MAXSIZE = env_int("CRAWL_DOWNLOAD_MAXSIZE", 8 * 1024 * 1024, minimum=1024)
CRAWL_BATCH_SIZE = env_int("CRAWL_BATCH_SIZE", 500, minimum=1)  # reviews per database transaction
CRAWL_FANOUT_BATCH = env_int("CRAWL_FANOUT_BATCH", 200, minimum=1)  # companies per RQ job in a large crawl
SELENIUM_REMOTE_URL = env_str("SELENIUM_REMOTE_URL", "")
CHROMIUM_BINARY = env_str("CHROMIUM_BINARY", "/usr/bin/chromium")
CHROMEDRIVER_PATH = env_str("CHROMEDRIVER_PATH", "/usr/bin/chromedriver")

LOG_LEVEL = env_choice("LOG_LEVEL", ("debug", "info", "warning", "error"), "info").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False}},
}
