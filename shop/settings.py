"""Settings for the demo shop and the stylerecs workers, twelve-factor style.

Everything that differs between a laptop and production comes from the environment:

- ``DATABASE_URL``: default SQLite under ``var/`` (the embedded default).
- ``CELERY_BROKER_URL``: default a filesystem broker under ``var/broker`` that needs no
  server, so the demo runs a real worker process on one machine; ``redis://`` or
  ``amqp://`` URLs in production.
- ``SECRET_KEY``, ``DEBUG``, ``ALLOWED_HOSTS``: DEBUG is off unless asked for, and with
  DEBUG off a real SECRET_KEY is required (see ``manage.py check --deploy``).
- ``STYLERECS_VAR_DIR``: where SQLite, media and the embedded broker live (default var/).
- ``MEDIA_ROOT``: where uploads and variants are stored (default ``$STYLERECS_VAR_DIR/media``).
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp import constants as csp
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1/0, true/false)")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


VAR_DIR = Path(os.environ.get("STYLERECS_VAR_DIR", BASE_DIR / "var")).resolve()

DEBUG = env_bool("DEBUG", False)
_INSECURE_KEY = "django-insecure-stylerecs-dev-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and not env_bool("STYLERECS_ALLOW_INSECURE_KEY", False):
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment, or set DEBUG=1 for local "
            "development."
        )
    SECRET_KEY = _INSECURE_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "stylerecs",
    "shop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"
ASGI_APPLICATION = "shop.asgi.application"

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
                "shop.context_processors.cart",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker share one SQLite file: WAL lets readers run while
    # the worker writes, IMMEDIATE transactions avoid "database is locked" on upgrade
    # from read to write, and the timeout waits out the other process's writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_db.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
# MEDIA_ROOT may live elsewhere than var/ (a mounted volume; the test suite gives its
# worker a fresh folder per run so that no run sees another's files).
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or VAR_DIR / "media").resolve()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve media from Django itself in the embedded default (no web server in front).
SERVE_MEDIA = env_bool("SERVE_MEDIA", DEBUG)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "stylerecs:for_you"
LOGOUT_REDIRECT_URL = "shop:catalogue"

if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

# Throttle counters live in this cache: set CACHE_URL=redis://... where several web
# processes serve the site, or each process counts on its own.
CACHE_URL = os.environ.get("CACHE_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL.startswith(("redis://", "rediss://"))
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

REST_FRAMEWORK = {
    # Token first, so an API client without credentials is told how to authenticate
    # (401 with WWW-Authenticate) instead of a bare 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "stylerecs.api.authentication.ShopperSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 24,
    "DEFAULT_THROTTLE_CLASSES": [
        "stylerecs.api.throttles.ShopperAnonThrottle",
        "stylerecs.api.throttles.ShopperUserThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_ANON_RATE", "300/minute"),
        "user": os.environ.get("API_USER_RATE", "1200/minute"),
        # Likes, dislikes and views from the storefront and the API, per shopper.
        "stylerecs_events": os.environ.get("STYLERECS_EVENT_RATE", "60/minute"),
    },
}

# /api/schema/ and /api/docs/ need no settings: stylerecs' views use drf-spectacular's
# AutoSchema and serve Swagger UI from drf-spectacular-sidecar (no CDN) by default.

# --- Hardening: untrusted input, client addresses, login lockout, CSP -------------
# Every query string, path and form is refused with a 400 when it holds a NUL (which
# PostgreSQL cannot store); JSON bodies are checked by the API's parsers.
MIDDLEWARE.insert(1, "stylerecs.middleware.RejectNulMiddleware")

# How many proxies in front of the site append to X-Forwarded-For. 0: the client's
# address is REMOTE_ADDR and a forged header changes nothing (throttles, lockouts).
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more.")
# Only a proxy that sets X-Forwarded-Proto (and strips the client's) may tell Django a
# request came over HTTPS; trusting it without one lets any client claim HTTPS.
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

REST_FRAMEWORK.update(
    {
        "NUM_PROXIES": TRUSTED_PROXY_COUNT,
        "DEFAULT_PARSER_CLASSES": [
            "stylerecs.api.parsers.JSONParser",
            "stylerecs.api.parsers.FormParser",
            "stylerecs.api.parsers.MultiPartParser",
        ],
        # The browsable API is a development tool (forms, a page per endpoint).
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
        + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    }
)
# Password checks of POST /api/auth/token/, per address.
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["stylerecs_login"] = os.environ.get(
    "API_LOGIN_RATE", "10/minute"
)

# django-axes locks a username out, from the address that guessed, after
# AXES_FAILURE_LIMIT failed logins (the login form, the admin and the token endpoint).
INSTALLED_APPS += ["axes", "csp"]
AUTHENTICATION_BACKENDS = [
    "shop.backends.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
MIDDLEWARE.append("axes.middleware.AxesMiddleware")
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "stylerecs.api.throttles.client_address"

# Content-Security-Policy (django-csp): scripts and styles only from this site; inline
# <style> blocks carry the per-response nonce. MEDIA_ORIGIN adds where uploads are
# served from when that is another host (S3, a CDN).
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "csp.middleware.CSPMiddleware",
)
_MEDIA_ORIGINS = env_list("CSP_MEDIA_ORIGINS")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF],
        "style-src": [csp.SELF, csp.NONCE],
        "img-src": [csp.SELF, "data:", *_MEDIA_ORIGINS],
        "font-src": [csp.SELF],
        "connect-src": [csp.SELF],
        "object-src": [csp.NONE],
        "base-uri": [csp.SELF],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
    }
}

# --- Celery -------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
    for _sub in ("queue", "control", "processed"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
else:
    # Longer than the slowest task (time limit below), or Redis redelivers a running
    # task to a second worker.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "7200"))
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT", "1800"))
CELERY_TASK_SOFT_TIME_LIMIT = int(os.environ.get("CELERY_TASK_SOFT_TIME_LIMIT", "1700"))
# Queues, routes, reliability settings and the beat schedule come from stylerecs
# (stylerecs.celeryconf, added in workers/celery.py).

# --- stylerecs ----------------------------------------------------------------------
STYLERECS_PRODUCT_MODEL = "shop.Product"
STYLERECS = {
    "PRODUCT_ADAPTER": "shop.adapters.ShopProductAdapter",
    "AUTO_APPROVE": env_bool("STYLERECS_AUTO_APPROVE", False),
    "DEVICE": os.environ.get("STYLERECS_DEVICE") or None,
    "KEEP_FREED_MEMORY": env_bool("STYLERECS_KEEP_FREED_MEMORY", True),
    "WEIGHTS_DIR": os.environ.get("STYLERECS_WEIGHTS_DIR", str(VAR_DIR / "weights")),
    # Machines without a GPU: stylizing and embedding on the default queue too.
    "CPU_ONLY": env_bool("STYLERECS_CPU_ONLY", False),
    "IMPRESSIONS_ENABLED": env_bool("STYLERECS_IMPRESSIONS_ENABLED", True),
    "IMPRESSIONS_BUFFER_URL": os.environ.get("STYLERECS_IMPRESSIONS_BUFFER_URL") or None,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
