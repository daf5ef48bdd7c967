"""Settings of the interview platform, all read from the environment.

One module for every mode. ``APP_ENV=production`` turns on the hardened profile and makes
the secrets mandatory; the default ``development`` profile runs on embedded defaults
(SQLite in WAL mode and a file-system Celery broker under ``var/``), so a fresh clone
starts with ``make run`` and nothing else. ``test`` is what the test suite runs under.
See the README's configuration table for every variable.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from interview_platform.env import Env

env = Env()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env.str("VAR_DIR") or BASE_DIR / "var")

APP_ENV = env.choice("APP_ENV", "development", ("development", "production", "test"))
PRODUCTION = APP_ENV == "production"

DEBUG = env.bool("DEBUG", default=APP_ENV == "development")
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when APP_ENV=production.")

if PRODUCTION:
    SECRET_KEY = env.required("SECRET_KEY")
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long in production.")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set in production (comma-separated host names).")
else:
    SECRET_KEY = env.str("SECRET_KEY") or "development-only-secret-key-never-use-in-production-0123456789"
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver", "[::1]"])

# Previous keys, still accepted for signatures (sessions, password resets) while a rotated
# SECRET_KEY takes over; remove them once sessions made with them have expired.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS")
# Where candidates' invitation links point (scheme and host, no trailing slash).
SITE_URL = env.str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "interview_platform",
    "accounts",
    "questions",
    "attempts",
    "portal",
]

MIDDLEWARE = [
    "interview_platform.health.OpsProbeMiddleware",
    "interview_platform.observability.RequestIdMiddleware",
    "interview_platform.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "interview_platform.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "interview_platform.urls"
WSGI_APPLICATION = "interview_platform.wsgi.application"
ASGI_APPLICATION = "interview_platform.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------
# DATABASE_URL switches to PostgreSQL (postgres://user@host:5432/name). Without it the
# platform runs on SQLite in WAL mode with immediate transactions, so the web process and
# the worker can write concurrently without "database is locked" errors.
SQLITE_PATH = VAR_DIR / "db.sqlite3"
DATABASE_URL = env.str("DATABASE_URL")
if PRODUCTION and not DATABASE_URL:
    raise ImproperlyConfigured("DATABASE_URL must be set in production.")
if DATABASE_URL:
    try:
        _database = dj_database_url.parse(DATABASE_URL, conn_max_age=env.int("DATABASE_CONN_MAX_AGE", 60))
    except ValueError as error:
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {error}") from None
    _database["CONN_HEALTH_CHECKS"] = True
    if _database["ENGINE"].endswith("postgresql"):
        # A database host that drops packets must not hang /readyz or a request for minutes.
        _database.setdefault("OPTIONS", {})["connect_timeout"] = env.int("DATABASE_CONNECT_TIMEOUT", 5, minimum=1)
else:
    # SQLite cannot create the folder its file lives in.
    SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    _database = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": SQLITE_PATH,
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }
# Each test run may name its own test database (CI runs two configurations in parallel).
if env.str("TEST_DATABASE_NAME"):
    _database["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME")}
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (throttling, idempotency windows) ------------------------------------------
REDIS_URL = env.str("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache"
            if APP_ENV != "test"
            else "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": str(VAR_DIR / "cache") if APP_ENV != "test" else "interview-platform-tests",
        }
    }

# --- Auth -----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "login"
API_TOKEN_TTL_HOURS = env.int("API_TOKEN_TTL_HOURS", 24 * 30, minimum=1)
# Demo accounts (one per role) are created by ``make run`` in development only.
DEMO_ACCOUNTS = APP_ENV == "development" and env.bool("DEMO_ACCOUNTS", True)

# --- Internationalisation: Chinese first, English available ---------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Celery ---------------------------------------------------------------------------
# Without CELERY_BROKER_URL the broker is kombu's file-system transport under var/ (no
# server needed); tests use the in-memory transport; production names Redis.
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL") or ("memory://" if APP_ENV == "test" else "filesystem://")
if PRODUCTION and CELERY_BROKER_URL.startswith(("filesystem", "memory")):
    raise ImproperlyConfigured("CELERY_BROKER_URL must name a real broker (redis://…) in production.")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Broadcast/fan-out exchanges (worker control) live here, not in the current directory.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # The transport polls; a short interval keeps a grade from waiting a second per hop.
        "polling_interval": env.float("CELERY_FILESYSTEM_POLLING_INTERVAL", 0.1, minimum=0.01),
    }
elif CELERY_BROKER_URL.startswith("memory"):
    # The in-memory transport (tests) polls once a second by default.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"polling_interval": 0.05}
elif CELERY_BROKER_URL.startswith(("redis", "rediss")):
    # A task not acknowledged within this time is handed to another worker; it must exceed
    # the longest grading task (hard time limit plus retries' countdown).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", 900, minimum=60)}
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", 120, minimum=5)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", 180, minimum=10)
CELERY_TASK_DEFAULT_QUEUE = "default"
# Task modules outside the apps' ``tasks.py`` (which are discovered automatically).
CELERY_IMPORTS = ["attempts.webhooks", "attempts.assessments"]
CELERY_TASK_ROUTES = {
    "attempts.tasks.grade_attempt": {"queue": "grading"},
    "questions.tasks.regrade_attempt": {"queue": "grading"},
}
CELERY_WORKER_SEND_TASK_EVENTS = env.bool("CELERY_WORKER_SEND_TASK_EVENTS", True)
CELERY_TASK_SEND_SENT_EVENT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers log through Django's LOGGING (JSON lines with the request id), not Celery's own setup.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "sweep-stale-attempts": {
        "task": "attempts.tasks.sweep_stale_attempts",
        "schedule": env.float("GRADING_SWEEP_INTERVAL_SECONDS", 60.0, minimum=1),
    },
    "retry-webhook-deliveries": {
        "task": "attempts.webhooks.webhook_deliveries_retry_due",
        "schedule": 60.0,
    },
    "submit-overdue-invitations": {
        "task": "attempts.assessments.submit_overdue_invitations",
        "schedule": 60.0,
    },
}

# --- Grading --------------------------------------------------------------------------
# With LLM_BASE_URL (or LLM_API_KEY) set, grades come from that OpenAI-compatible server;
# otherwise from the offline grader. GRADER=offline|openai forces one.
LLM_BASE_URL = env.str("LLM_BASE_URL")
LLM_API_KEY = env.str("LLM_API_KEY")
LLM_MODEL = env.str("LLM_MODEL", "gpt-4o-mini")
LLM_TIMEOUT_SECONDS = env.float("LLM_TIMEOUT_SECONDS", 60.0, minimum=1)
LLM_STRUCTURED_OUTPUT = env.choice("LLM_STRUCTURED_OUTPUT", "auto", ("auto", "json_schema", "json_object"))
GRADER = env.choice("GRADER", "openai" if (LLM_BASE_URL or LLM_API_KEY) else "offline", ("offline", "openai"))
GRADING_MAX_RETRIES = env.int("GRADING_MAX_RETRIES", 5, minimum=0)
GRADING_RETRY_BACKOFF_SECONDS = env.float("GRADING_RETRY_BACKOFF_SECONDS", 2.0, minimum=0)
GRADING_RETRY_BACKOFF_MAX_SECONDS = env.float("GRADING_RETRY_BACKOFF_MAX_SECONDS", 300.0, minimum=0)
# Attempts left queued or grading longer than this are sent again by the sweeper.
GRADING_STALE_AFTER_SECONDS = env.int("GRADING_STALE_AFTER_SECONDS", 300, minimum=1)
ANSWER_MAX_CHARS = 20_000

# --- Webhooks -------------------------------------------------------------------------
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", 10.0, minimum=1)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1)
# First retry delay; each further retry doubles it (capped at six hours).
WEBHOOK_RETRY_BACKOFF_SECONDS = env.float("WEBHOOK_RETRY_BACKOFF_SECONDS", 30.0, minimum=0)
# Allow delivery to loopback and private addresses (development and tests only).
WEBHOOK_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", not PRODUCTION)

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "interview_platform.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "interview_platform.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "token": env.str("THROTTLE_TOKEN", "10/min"),
        "attempt_submit": env.str("THROTTLE_ATTEMPT_SUBMIT", "30/min"),
        "hr": env.str("THROTTLE_HR", "600/hour"),
        "candidate": env.str("THROTTLE_CANDIDATE", "120/min"),
        "error_report": env.str("THROTTLE_ERROR_REPORT", "20/hour"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "LLM Interview Training Platform API",
    "DESCRIPTION": "Question bank, asynchronous grading, curation and HR assessments.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Also here (not only in the schema view's settings): `manage.py check --deploy` builds
    # the schema with these global settings and warns about every unnamed enum collision.
    "ENUM_NAME_OVERRIDES": {
        "AttemptStatusEnum": "attempts.models.Attempt.Status",
        "InvitationStatusEnum": "attempts.models.Invitation.Status",
        "DeliveryStatusEnum": "attempts.models.WebhookDelivery.Status",
        "QuestionStatusEnum": "questions.models.Question.Status",
        "VersionStatusEnum": "questions.models.ReferenceAnswerVersion.Status",
        "ErratumStatusEnum": "questions.models.Erratum.Status",
    },
}

# --- Security -------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = env.bool("USE_X_FORWARDED_HOST", True)
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        # Preloading commits every subdomain to HTTPS for months, beyond this application:
        # an operator opts in with SECURE_HSTS_PRELOAD=true; not doing so is not a defect.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
# Content Security Policy (interview_platform/csp.py): scripts only from our static files.
CSP_POLICY = env.str("CSP_POLICY")
CSP_REPORT_ONLY = env.bool("CSP_REPORT_ONLY", False)
CSP_REPORT_URI = env.str("CSP_REPORT_URI")

# --- Operations -----------------------------------------------------------------------
# /metrics answers a request bearing "Authorization: Bearer <METRICS_TOKEN>", or an admin's session.
METRICS_TOKEN = env.str("METRICS_TOKEN")
if PRODUCTION and METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 32 characters long.")

# --- Logging --------------------------------------------------------------------------
LOG_LEVEL = env.choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper()
LOG_FORMAT = env.choice("LOG_FORMAT", "json" if PRODUCTION else "text", ("json", "text"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
    },
    "filters": {"request_id": {"()": "interview_platform.observability.RequestIdFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "jieba": {"level": "WARNING"},
        # One JSON line per request with its id and duration (runserver logs its own in development).
        "interview_platform.requests": {"level": "INFO" if PRODUCTION else "WARNING"},
    },
}
