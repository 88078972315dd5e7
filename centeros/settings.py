"""Django settings for CenterOS, read from environment variables.

Every variable is listed in the README's configuration table. The defaults
give the embedded setup: SQLite and local storage under ``var/`` in the
checkout, and the database task queue.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from datasets.storage_settings import (
    StorageConfigurationError,
    default_storage_entry,
    storage_backend_name,
)

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {value!r}.")


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}.")


def _env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DATA_DIR = Path(os.environ.get("CENTEROS_DATA_DIR", BASE_DIR / "var")).resolve()


def _secret_key() -> str:
    """Return the configured secret key, or one kept in the data folder.

    A generated key is written once with 0600 permissions so that PAT hashes
    and signed URLs stay valid across restarts of an embedded installation.
    """
    configured = os.environ.get("CENTEROS_SECRET_KEY")
    if configured:
        return configured

    key_file = DATA_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key)
    return key


SECRET_KEY = _secret_key()
# Old keys stay valid for verifying PAT hashes and signatures during rotation.
SECRET_KEY_FALLBACKS = _env_list("CENTEROS_SECRET_KEY_FALLBACKS", [])
DEBUG = _env_bool("CENTEROS_DEBUG", False)
ALLOWED_HOSTS = _env_list(
    "CENTEROS_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = _env_list("CENTEROS_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "django_tasks_db",
    "centeros",
    "orgs",
    "datasets",
    "training",
    "models_registry",
    "fleet",
    "annotations",
]

MIDDLEWARE = [
    "centeros.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "centeros.urls"
WSGI_APPLICATION = "centeros.wsgi.application"
ASGI_APPLICATION = "centeros.asgi.application"

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

# Database: DATABASE_URL, SQLite in the data folder by default.
DATABASE_URL = os.environ.get("DATABASE_URL") or (
    f"sqlite:///{DATA_DIR / 'centeros.sqlite3'}"
)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg 3 connection pool; persistent connections must stay off with it.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": _env_int("CENTEROS_DB_POOL_SIZE", 10),
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A web process and a worker share the file: wait for locks instead of
    # failing at once, and take the write lock at BEGIN to avoid upgrades
    # that deadlock.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "orgs.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Serve the admin's static files from the installed apps, so the embedded
# setup works without running collectstatic first.
WHITENOISE_USE_FINDERS = True

# Storage: local files under CENTEROS_STORAGE_ROOT by default.
STORAGE_ROOT = Path(
    os.environ.get("CENTEROS_STORAGE_ROOT", DATA_DIR / "storage")
).resolve()
# CENTEROS_STORAGE_BACKEND picks local files, S3 or Google Cloud Storage for
# datasets and artifacts alike; datasets/storage_settings.py reads the rest.
try:
    _DEFAULT_STORAGE = default_storage_entry(os.environ, local_root=str(STORAGE_ROOT))
except StorageConfigurationError as error:
    raise ImproperlyConfigured(str(error))
CENTEROS_STORAGE_BACKEND = storage_backend_name(os.environ)
# The upload backend signs direct uploads to the store configured above.
CENTEROS_UPLOAD_BACKEND = CENTEROS_STORAGE_BACKEND
STORAGES = {
    "default": _DEFAULT_STORAGE,
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}
MEDIA_ROOT = str(STORAGE_ROOT)

# Uploads: the largest dataset file accepted, in bytes (default 10 GiB), and
# how long a signed upload URL stays valid, in seconds.
CENTEROS_MAX_UPLOAD_SIZE = _env_int("CENTEROS_MAX_UPLOAD_SIZE", 10 * 1024**3)
CENTEROS_UPLOAD_URL_TTL = _env_int("CENTEROS_UPLOAD_URL_TTL", 3600)
# The largest body of any other request, in bytes; larger ones get 413 before
# they are read. Django's form and JSON parsing keep their own, smaller limit
# (DATA_UPLOAD_MAX_MEMORY_SIZE).
CENTEROS_MAX_REQUEST_BODY = _env_int("CENTEROS_MAX_REQUEST_BODY", 10 * 1024**2)
# How long a signed download URL (datasets, training artifacts) stays valid,
# in seconds.
CENTEROS_DOWNLOAD_URL_TTL = _env_int("CENTEROS_DOWNLOAD_URL_TTL", 300)
# Base URL that signed upload and download URLs point at.
CENTEROS_PUBLIC_URL = os.environ.get(
    "CENTEROS_PUBLIC_URL", "http://127.0.0.1:8000"
).rstrip("/")

# Training: the executor that runs launched jobs, and how long a running job
# may go without a progress report before it is marked failed.
CENTEROS_TRAINING_EXECUTOR = os.environ.get("CENTEROS_TRAINING_EXECUTOR", "local")
CENTEROS_TRAINING_STALE_SECONDS = _env_int("CENTEROS_TRAINING_STALE_SECONDS", 600)

# Fleet: a robot whose last heartbeat is older than this is offline.
CENTEROS_HEARTBEAT_TIMEOUT = _env_int("CENTEROS_HEARTBEAT_TIMEOUT", 60)

# --- Fleet agent protocol (/api/agent/v1/) ---------------------------------
# Heartbeats kept per robot; older ones are pruned as new ones arrive.
CENTEROS_HEARTBEAT_HISTORY = _env_int("CENTEROS_HEARTBEAT_HISTORY", 1000)
# Maximum duration of a long poll of the command channel, in seconds.
CENTEROS_AGENT_MAX_WAIT = _env_int("CENTEROS_AGENT_MAX_WAIT", 30)
# Without PostgreSQL LISTEN/NOTIFY (SQLite), a waiting channel request checks
# the queue this often, in milliseconds.
CENTEROS_AGENT_POLL_MS = _env_int("CENTEROS_AGENT_POLL_MS", 150)
# Seconds a delivered command of each kind may wait for its acknowledgement
# before it is marked expired.
CENTEROS_COMMAND_ACK_TIMEOUTS = {
    "emergency_stop": _env_int("CENTEROS_ESTOP_ACK_TIMEOUT", 60),
    "release_emergency_stop": _env_int("CENTEROS_RELEASE_ACK_TIMEOUT", 60),
    "deploy": _env_int("CENTEROS_DEPLOY_ACK_TIMEOUT", 15 * 60),
}
# Lifetime of the signed artifact URL in a delivered deploy command, seconds.
CENTEROS_ARTIFACT_URL_TTL = _env_int("CENTEROS_ARTIFACT_URL_TTL", 15 * 60)
# --- end of fleet agent protocol settings ----------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "orgs.authentication.PersonalAccessTokenAuthentication",
        "orgs.authentication.OrgJWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["centeros.actions.parsers.StrictJSONParser"],
    "EXCEPTION_HANDLER": "centeros.actions.handlers.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "login": os.environ.get("CENTEROS_LOGIN_RATE", "10/min"),
        "actions": os.environ.get("CENTEROS_ACTION_RATE", "1200/min"),
        "anon": os.environ.get("CENTEROS_ANON_RATE", "120/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # How many proxies sit in front of the server. With 0, rate limits key on
    # the connection's address and ignore X-Forwarded-For, which any client
    # can set.
    "NUM_PROXIES": _env_int("CENTEROS_NUM_PROXIES", 0),
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(
        minutes=_env_int("CENTEROS_ACCESS_TOKEN_MINUTES", 15)
    ),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=_env_int("CENTEROS_REFRESH_DAYS", 7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "SIGNING_KEY": SECRET_KEY,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "CenterOS API",
    "DESCRIPTION": (
        "The action layer of CenterOS: discover actions with GET /api/actions "
        "and run one with POST /api/actions/{name} and a body of "
        '{"params": {...}}.'
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's files are served from this installation, not a CDN: the
    # docs page then works offline and loads no third-party script next to
    # the tokens people paste into it.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "centeros.actions.openapi.add_action_paths",
    ],
}

TASKS = {
    "default": {
        "BACKEND": os.environ.get(
            "CENTEROS_TASK_BACKEND", "django_tasks_db.DatabaseBackend"
        ),
        "QUEUES": ["default", "training"],
    }
}

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}

LOG_LEVEL = os.environ.get("CENTEROS_LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "filters": {
        "redact_signed_urls": {"()": "centeros.log_filters.RedactSignedUrlsFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_signed_urls"],
        },
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        **{
            name: {"level": LOG_LEVEL}
            for name in (
                "centeros",
                "orgs",
                "datasets",
                "training",
                "models_registry",
                "fleet",
                "annotations",
            )
        },
        # These log request paths; the filter on the logger itself covers
        # every handler the records reach.
        **{
            name: {"filters": ["redact_signed_urls"]}
            for name in ("django.request", "django.server", "uvicorn.access")
        },
    },
}
