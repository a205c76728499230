"""Taskweb settings, driven by environment variables with working defaults.

Nothing is required for the embedded default (SQLite, in-memory channel layer, built-in
engine). `DATABASE_URL` and `REDIS_URL` switch to PostgreSQL and Redis.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext

django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DJANGO_DEBUG", True)
_DEV_SECRET = "django-insecure-taskweb-development-only-key-not-for-production-use-0000"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", _DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=0")
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "csp",
    "tasks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "taskweb.urls"
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
WSGI_APPLICATION = None
ASGI_APPLICATION = "taskweb.asgi.application"

_default_db = f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES: dict[str, Any] = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", _default_db), conn_max_age=600, conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the page read while a run writes; a busy timeout instead of "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
    }
    # A file, not memory: live-server tests run daphne in a forked process that must share it.
    # Per process, so that two test runs on one machine never share one.
    _test_db = BASE_DIR / ".local" / f"test-db-{os.getpid()}.sqlite3"
    DATABASES["default"]["TEST"] = {"NAME": str(_test_db)}
else:
    # Named explicitly: the live-server test process derives its database from TEST.NAME.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}"}

REDIS_URL = os.environ.get("REDIS_URL", "")


def _deployment_namespace(database: dict[str, Any]) -> str:
    """A name per database: two deployments on one Redis server never share channels.

    Redis pub/sub ignores the database number in REDIS_URL, so without a prefix of their
    own two deployments heard each other's run events (a conversation id of one is also a
    conversation id of the other).
    """
    identity = "|".join(str(database.get(key) or "") for key in ("ENGINE", "NAME", "HOST", "PORT"))
    return "taskweb-" + hashlib.sha256(identity.encode()).hexdigest()[:12]


TASKWEB_CHANNEL_PREFIX = os.environ.get("TASKWEB_CHANNEL_PREFIX") or _deployment_namespace(
    DATABASES["default"]
)
"""Namespace of this deployment's channel-layer groups and channels (and breaker keys) in
Redis; by default derived from the database, so each database is its own deployment."""
CHANNEL_LAYERS: dict[str, dict[str, Any]] = {
    "default": (
        {
            # Pub/sub: a message reaches the consumers listening now, with no per-channel
            # queue to overflow or expire (channels-redis' list-based layer lost events for
            # 50 concurrent conversations in the benchmark, and its 5 s BZPOPMIN races
            # redis-py 8's 5 s socket timeout).
            # Degrades instead of failing while Redis is away (tasks/layer.py).
            "BACKEND": "tasks.layer.TolerantPubSubLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": TASKWEB_CHANNEL_PREFIX},
        }
        if REDIS_URL
        else {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    )
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TASKWEB_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Content-Security-Policy: only the app's own scripts and styles; no inline script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    STORAGES["staticfiles"]["BACKEND"] = "whitenoise.storage.CompressedManifestStaticFilesStorage"
    WHITENOISE_USE_FINDERS = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("TASKWEB_LOG_LEVEL", "WARNING")},
}

# Taskweb's own knobs.
TASKWEB_ROUTE = os.environ.get("TASKWEB_ROUTE", "")
TASKWEB_MAX_MESSAGE_CHARS = 8000
TASKWEB_WARM_UP = env_bool("TASKWEB_WARM_UP", True)
"""Served processes load templates, engines and the default route at start (tasks/warmup.py)."""
TASKWEB_MAX_STEPS = int(os.environ.get("TASKWEB_MAX_STEPS", "10"))
TASKWEB_MAX_TOKENS_PER_RUN = int(os.environ.get("TASKWEB_MAX_TOKENS_PER_RUN", "200000"))
TASKWEB_MAX_OUTPUT_TOKENS = int(os.environ.get("TASKWEB_MAX_OUTPUT_TOKENS", "1024"))
"""Cap on one model answer: a small model that rambles stops here instead of at its context."""
TASKWEB_MAX_FRAME_BYTES = 64 * 1024
TASKWEB_RATE_LIMIT = os.environ.get("TASKWEB_RATE_LIMIT", "20/60")
"""User messages allowed per window, as COUNT/SECONDS."""
TASKWEB_MAX_CONCURRENT_RUNS = int(os.environ.get("TASKWEB_MAX_CONCURRENT_RUNS", "2"))
TASKWEB_STAFF_ADHOC_ROUTES = env_bool("TASKWEB_STAFF_ADHOC_ROUTES", True)
"""Staff who may add backend profiles may also type ad-hoc `kind:model@url` routes (sent
without any API key); everyone else picks enabled profiles by name."""
TASKWEB_ROUTE_CACHE_SIZE = int(os.environ.get("TASKWEB_ROUTE_CACHE_SIZE", "64"))
"""Distinct routes whose backends (HTTP pools, loaded models) are kept, least recently used out."""
TASKWEB_MAX_NEW_CONVERSATIONS_PER_MINUTE = int(
    os.environ.get("TASKWEB_MAX_NEW_CONVERSATIONS_PER_MINUTE", "20")
)
"""Conversations one user may start per minute, counted in the database (all processes)."""
TASKWEB_MAX_ANSWER_CHARS = int(os.environ.get("TASKWEB_MAX_ANSWER_CHARS", str(64 * 1024)))
"""Characters one model answer may hold, whatever the server does: past it the stream is cut
and the answer ends with a marker (0: no cap)."""

# Context budget: how much history one turn reads and sends (tasks/history.py).
TASKWEB_CONTEXT_MESSAGES = int(os.environ.get("TASKWEB_CONTEXT_MESSAGES", "40"))
"""Newest messages a turn reads (plus the conversation's first user message, pinned)."""
TASKWEB_CONTEXT_TOKENS = int(os.environ.get("TASKWEB_CONTEXT_TOKENS", "6000"))
"""Estimated tokens of history sent to the model per request."""
TASKWEB_CONTEXT_BY_PROFILE: dict[str, dict[str, int]] = json.loads(
    os.environ.get("TASKWEB_CONTEXT_BY_PROFILE", "{}")
)
"""Per backend profile overrides, e.g. {"small-local": {"messages": 12, "tokens": 2000}}."""
TASKWEB_MAX_CALLS_PER_ANSWER = int(os.environ.get("TASKWEB_MAX_CALLS_PER_ANSWER", "16"))
"""Tool calls run per model answer; the rest get an error result (issue #11)."""
TASKWEB_MAX_CALLS_PER_RUN = int(os.environ.get("TASKWEB_MAX_CALLS_PER_RUN", "64"))
TASKWEB_APPROVAL_TIMEOUT_S = float(os.environ.get("TASKWEB_APPROVAL_TIMEOUT_S", "600"))
"""An approval not answered in this time counts as rejected (the run goes on)."""
TASKWEB_HEARTBEAT_S = float(os.environ.get("TASKWEB_HEARTBEAT_S", "5"))
"""How often each server process records that it is alive and looks for orphaned runs."""
TASKWEB_WORKER_STALE_S = float(os.environ.get("TASKWEB_WORKER_STALE_S", "30"))
"""A process silent this long no longer owns its runs: any process closes them."""
TASKWEB_MAX_SOCKETS_PER_USER = int(os.environ.get("TASKWEB_MAX_SOCKETS_PER_USER", "20"))
"""Open chat sockets per user and process."""
