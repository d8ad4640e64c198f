"""cdpadmin settings: one module, everything that differs between machines comes from the environment."""

from __future__ import annotations

import base64
import hashlib
import os
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (env(name, default) or "").split(",") if item.strip()]


def _load_dotenv(path: Path) -> None:
    """Read KEY=VALUE lines from .env without overriding the real environment."""
    if not path.is_file():
        return
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        os.environ.setdefault(key.strip(), value.strip().strip("'\""))


# CDPADMIN_ENV_FILE names another file, or "" for none (tests that start production-like processes use it,
# so the .env that `make env` writes on a developer's or CI's machine can't supply what they leave out).
_ENV_FILE = os.environ.get("CDPADMIN_ENV_FILE", str(BASE_DIR / ".env"))
if _ENV_FILE:
    _load_dotenv(Path(_ENV_FILE))

DEBUG = env_bool("DEBUG", False)
# Development (a developer's machine, `make run`, the test suite and the processes it starts) may use derived
# secrets and the local Infobip sandbox; anywhere else every secret must come from the environment.
if "pytest" in sys.modules:
    os.environ.setdefault("DEVELOPMENT", "true")
DEVELOPMENT = env_bool("DEVELOPMENT", DEBUG)
# Outside development there is no public default: without SECRET_KEY (and the two below) nothing starts.
SECRET_KEY = env("SECRET_KEY", "django-insecure-cdpadmin-dev-key-change-me" if DEVELOPMENT else None)
# The HMAC pepper of API key hashes (identities.models.hash_api_key), its own secret so SECRET_KEY can rotate
# without breaking every key. Upgrading: set it to the SECRET_KEY the existing hashes were made with.
API_KEY_PEPPER = env("API_KEY_PEPPER", SECRET_KEY if DEVELOPMENT else None)
# Fernet keys for secrets at rest (core.crypto): comma-separated, the first encrypts, all decrypt (rotation).
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS")
if not FIELD_ENCRYPTION_KEYS and DEVELOPMENT and SECRET_KEY:  # derived from SECRET_KEY (core.crypto.derived_key)
    _digest = hashlib.sha256(b"cdpadmin field encryption|" + SECRET_KEY.encode()).digest()
    FIELD_ENCRYPTION_KEYS = [base64.urlsafe_b64encode(_digest).decode()]
_missing = [name for name in ("SECRET_KEY", "API_KEY_PEPPER", "FIELD_ENCRYPTION_KEYS") if not globals()[name]]
if _missing:
    raise ImproperlyConfigured(
        f"set {', '.join(_missing)} in the environment (or DEVELOPMENT=true on a developer's machine; "
        "`make run` writes random ones into .env)"
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "cdpadmin.apps.CdpAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files served by us: /v1/docs/ works offline
    "django_q",
    "identities",
    "people",
    "companies",
    "imports",
    "infobip",
    "tracking",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.actors.ActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "cdpadmin.urls"
WSGI_APPLICATION = "cdpadmin.wsgi.application"

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

DATABASE_URL = env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cdpadmin")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise RuntimeError("cdpadmin runs on PostgreSQL only; DATABASE_URL must be a postgres:// URL")
DATABASES["default"].setdefault("TEST", {})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [BASE_DIR / "cdpadmin" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
MEDIA_URL = "media/"

# Uploads: bounded at the edge. Import files are at most 15 MB (seed 001); the request may carry a little more.
# The API's body limit (a JSON body, or a multipart body's non-file fields): over it the answer is a 413 in
# the API's error shape. Django's own guard on request.body uses the same figure.
API_MAX_BODY_BYTES = int(env("API_MAX_BODY_BYTES", str(5 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
IMPORT_MAX_FILE_BYTES = int(env("IMPORT_MAX_FILE_BYTES", str(15 * 1024 * 1024)))
IMPORT_MAX_ROWS = int(env("IMPORT_MAX_ROWS", "1000000"))
# Rows applied per transaction: a crash or a cancel loses at most one batch of work, never half of one.
IMPORT_BATCH_ROWS = int(env("IMPORT_BATCH_ROWS", "5000"))
# Batches applied at once, each on its own connection (at most the machine's cores; imports/batches.py).
IMPORT_APPLY_WORKERS = int(env("IMPORT_APPLY_WORKERS", "2"))
# Workbooks are read by python-calamine in a child process (imports/workbook_child.py) under these limits; a
# sheet declaring more cells than IMPORT_WORKBOOK_MAX_CELLS is refused before it is read.
IMPORT_WORKBOOK_MAX_CELLS = int(env("IMPORT_WORKBOOK_MAX_CELLS", str(20_000_000)))
IMPORT_WORKBOOK_MEMORY_BYTES = int(env("IMPORT_WORKBOOK_MEMORY_BYTES", str(1024 * 1024 * 1024)))
IMPORT_WORKBOOK_CPU_SECONDS = int(env("IMPORT_WORKBOOK_CPU_SECONDS", "300"))
IMPORT_WORKBOOK_SECONDS = int(env("IMPORT_WORKBOOK_SECONDS", "120"))  # wall clock until the first row is read

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# TLS: outside development the site is https only (HSTS, secure cookies, redirect). Behind a reverse proxy
# that terminates TLS, set SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO (the proxy must set that header).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEVELOPMENT)
SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "0" if DEVELOPMENT else str(365 * 24 * 3600)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEVELOPMENT)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEVELOPMENT)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEVELOPMENT)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEVELOPMENT)
if env("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = (env("SECURE_PROXY_SSL_HEADER"), "https")
# Health checks of a load balancer arrive over plain http: exempt them from the redirect by path.
SECURE_REDIRECT_EXEMPT = env_list("SECURE_REDIRECT_EXEMPT", "")

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.ApiAutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["identities.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["identities.authentication.HasApiKey"],
    "DEFAULT_RENDERER_CLASSES": ["core.api.renderers.FastJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.StrictJSONParser"],
    "EXCEPTION_HANDLER": "core.api.exceptions.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
# core calls up into identities only through these dotted paths (core imports no app).
IDEMPOTENCY_STORE = "identities.idempotency"
ADMIN_REALM_SCOPE = "identities.realms"  # user_realm_ids(user), realms_for_user(user)
SPECTACULAR_SETTINGS = {
    "TITLE": "cdpadmin API",
    "DESCRIPTION": (
        "Identities (Orangepill style) and their Infobip Customer Profiles: persons, companies, tags, custom "
        "attributes and events. Authenticate with your API key in the `x-api-key` header (or "
        "`Authorization: Bearer <key>`); the key decides the realm and the owner. Every error has one shape: "
        "`{name, message, code, type, data}`. Writes accept an `idempotency-key` header. The paths are also "
        "served under the source documents' spelling `/v1/identitites/...` (not listed here)."
    ),
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "PREPROCESSING_HOOKS": ["core.api.schema.exclude_alias_paths"],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "OriginEnum": "people.models.Origin",
        "IdentityTypeEnum": "identities.models.IdentityType",
        "PersonTypeEnum": "people.models.PersonType",
        "EventFieldTypeEnum": "people.services.EVENT_FIELD_TYPE_CHOICES",
        "DuplicateStrategyEnum": "imports.models.DuplicateStrategy",
    },
}
# Brute force (identities.throttle): this many failed logins / API keys per client address or account within
# the window lock it for AUTH_LOCKOUT_SECONDS. Behind a proxy, CLIENT_IP_HEADER names the header with the
# client's address (e.g. HTTP_X_REAL_IP); it must be one the proxy always overwrites.
AUTH_FAILURE_LIMIT = int(env("AUTH_FAILURE_LIMIT", "10"))
AUTH_FAILURE_WINDOW = float(env("AUTH_FAILURE_WINDOW", "60"))
AUTH_LOCKOUT_SECONDS = float(env("AUTH_LOCKOUT_SECONDS", "60"))
CLIENT_IP_HEADER = env("CLIENT_IP_HEADER")
# How long a process trusts an API key it has authenticated without asking the database again; also the
# longest a revoked key keeps working in another process when the cache is per process (identities.keycache).
API_KEY_CACHE_SECONDS = float(env("API_KEY_CACHE_SECONDS", "5"))
# Only for bench/api.py: a bare DRF endpoint (/v1/_bench/ping) measured beside ours in the same run.
API_BENCH_ENDPOINT = env_bool("API_BENCH_ENDPOINT", False)

# Infobip: defaults point at the local sandbox started by `make run`.
INFOBIP_BASE_URL = env("INFOBIP_BASE_URL", "http://127.0.0.1:8099")
INFOBIP_API_KEY = env("INFOBIP_API_KEY", "sandbox-key")
# Hosts a base URL may name (shell-style patterns): a key is only ever sent to one of these (infobip.hosts).
INFOBIP_ALLOWED_HOSTS = env_list(
    "INFOBIP_ALLOWED_HOSTS", "*.api.infobip.com,api.infobip.com" + (",127.0.0.1,localhost" if DEVELOPMENT else "")
)
INFOBIP_TIMEOUT = float(env("INFOBIP_TIMEOUT", "10"))
# Client-side pacing under Infobip's published per-second limits: "real", "off", or a multiplier of them.
INFOBIP_RATE_LIMITS = env("INFOBIP_RATE_LIMITS", "real")
# Where the limiter keeps its state, shared by every worker: "auto" (Redis when REDIS_URL is set, else
# PostgreSQL), "postgres", "redis" or "memory" (one process only).
INFOBIP_RATE_LIMITER = env("INFOBIP_RATE_LIMITER", "auto")
# The client's own retries of one call (429, 5xx, connection errors on idempotent calls): count, base and cap (s).
INFOBIP_MAX_RETRIES = int(env("INFOBIP_MAX_RETRIES", "4"))
INFOBIP_BACKOFF = float(env("INFOBIP_BACKOFF", "0.5"))
INFOBIP_BACKOFF_CAP = float(env("INFOBIP_BACKOFF_CAP", "30"))

# The outbox push (infobip/outbox/engine.py). A failed change is tried again after BACKOFF_BASE * 2^(attempts-1) seconds
# (capped at BACKOFF_CAP, with jitter) and becomes a dead letter after MAX_ATTEMPTS. A worker leases the rows it
# delivers for LEASE_SECONDS (renewed while it works); a killed worker's rows are taken over after that.
INFOBIP_OUTBOX_MAX_ATTEMPTS = int(env("INFOBIP_OUTBOX_MAX_ATTEMPTS", "10"))
INFOBIP_OUTBOX_BACKOFF_BASE = float(env("INFOBIP_OUTBOX_BACKOFF_BASE", "10"))
INFOBIP_OUTBOX_BACKOFF_CAP = float(env("INFOBIP_OUTBOX_BACKOFF_CAP", "3600"))
INFOBIP_OUTBOX_LEASE_SECONDS = float(env("INFOBIP_OUTBOX_LEASE_SECONDS", "300"))
# Entities claimed per round, and how many changes of one kind in a round make it use a batch endpoint.
INFOBIP_OUTBOX_CLAIM = int(env("INFOBIP_OUTBOX_CLAIM", "1000"))
INFOBIP_OUTBOX_BATCH_MIN = int(env("INFOBIP_OUTBOX_BATCH_MIN", "5"))
# One drain task works at most this long, then queues its successor (django-q2's timeout is Q_TIMEOUT).
INFOBIP_OUTBOX_TASK_SECONDS = float(env("INFOBIP_OUTBOX_TASK_SECONDS", "240"))
# Commits wake a drain task (debounced); off in settings where no worker runs and nothing should be queued.
INFOBIP_OUTBOX_AUTODRAIN = env_bool("INFOBIP_OUTBOX_AUTODRAIN", True)
# Delivered and skipped outbox rows (with their attempts) are deleted after this many days by the minute schedule.
INFOBIP_OUTBOX_KEEP_DAYS = float(env("INFOBIP_OUTBOX_KEEP_DAYS", "30"))
# A running sync run without a heartbeat for this long is considered crashed and resumed by the minute schedule.
INFOBIP_SYNC_STALE_SECONDS = float(env("INFOBIP_SYNC_STALE_SECONDS", "300"))
# One sync task works at most this long (under Q_TIMEOUT), then a successor continues the run at its cursor.
INFOBIP_SYNC_TASK_SECONDS = float(env("INFOBIP_SYNC_TASK_SECONDS", "600"))

# django-q2: ORM broker on PostgreSQL by default (enqueueing inside atomic() is then transactional);
# Redis when REDIS_URL is set. retry > timeout and max_attempts > 0 so a lost worker's task is re-run.
# Two clusters, two queues: the default one ("cdpadmin": the outbox drains and the schedules) pushes to Infobip;
# the interactive one (Q_INTERACTIVE_CLUSTER: imports, duplicate scans and sync runs, work staff start and wait
# for) never waits behind a push backlog; its two workers let an import and a sync run side by side.
# `manage.py runstack` starts both; by hand: `manage.py qworker` and `Q_CLUSTER_NAME=cdpadmin-interactive manage.py
# qworker`.
Q_INTERACTIVE_CLUSTER = "cdpadmin-interactive"
# `manage.py qworker` (what runstack starts) stops within this many seconds of SIGTERM: workers finish their task
# gracefully until then, and are killed after it (their leased rows are reclaimed when the lease lapses).
Q_STOP_SECONDS = float(env("Q_STOP_SECONDS", "30"))
Q_CLUSTER = {
    "name": "cdpadmin",
    "workers": int(env("Q_WORKERS", "2")),
    "timeout": int(env("Q_TIMEOUT", "900")),
    "retry": int(env("Q_RETRY", "1200")),
    "max_attempts": 3,
    "queue_limit": 50,
    "bulk": 10,
    "catch_up": False,
    "save_limit": 1000,
    "ack_failures": True,
    "poll": 0.2,
    "label": "Task queue",
    "ALT_CLUSTERS": {Q_INTERACTIVE_CLUSTER: {"workers": int(env("Q_INTERACTIVE_WORKERS", "2"))}},
}
if REDIS_URL and env_bool("Q_USE_REDIS", True):
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
if env_bool("Q_SYNC", False):
    Q_CLUSTER["sync"] = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
