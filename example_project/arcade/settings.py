"""Settings of the "arcade" example: everything from the environment.

REDIS_URL     redis://, rediss://, redis+sentinel://h:26379,h2:26379/service/db or
              redis+cluster://h1:7000,h2:7001. Unset: the private redis-server that
              scripts/run-example runs (found through example_project/.redis/env, see
              arcade/private_redis.py); none running is an error saying how to start one,
              never a silent fallback to another server
ARCADE_REDIS_DIR  where that private server keeps its data and env file (default
              example_project/.redis)
DATABASE_URL  sqlite:///path (default: example_project/db.sqlite3) or
              postgres://user@host:5432/name
DEBUG_TOOLBAR 1 (default with DEBUG=1 when django-debug-toolbar is installed): the toolbar,
              with the Redis panel (django_redis_patterns.contrib.debug_toolbar)
METRICS       1 (default when prometheus_client is installed): Prometheus metrics of every
              pattern at /metrics (django_redis_patterns.contrib.prometheus)
SECRET_KEY, DEBUG (default 1), ALLOWED_HOSTS (comma-separated), HTTPS=1 (secure cookies,
              HSTS, redirect to https: what ``check --deploy`` asks for behind TLS)
ARCADE_STACK  "patterns" (default: this package) or "today" (django-redis cache, Django's
              cache session engine, django-ratelimit: the load benchmark's baseline)
SESSION_MIN_REPLICAS  replicas each session write waits for (WAIT; default 0): 1 on a
              primary + replica (Sentinel, or Cluster with a replica per primary) keeps
              every session through the primary's crash
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import django

from arcade import private_redis

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = os.environ.get("DEBUG", "1") == "1"
SECRET_KEY = os.environ.get("SECRET_KEY", "arcade-example-not-secret-change-me-in-production-0123456789")
if not DEBUG and "SECRET_KEY" not in os.environ:
    raise ValueError("SECRET_KEY must be set in the environment when DEBUG=0 (the default one is public)")
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
ARCADE_STACK = os.environ.get("ARCADE_STACK", "patterns")
ARCADE_METRICS = os.environ.get("METRICS", "1" if find_spec("prometheus_client") else "0") == "1"
if ARCADE_STACK not in ("patterns", "today"):
    raise ValueError(f"ARCADE_STACK must be 'patterns' or 'today', got {ARCADE_STACK!r}")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_redis_patterns",
    "django_redis_patterns.cache",
    "django_redis_patterns.sessions",
    "django_redis_patterns.ratelimit",
    "django_redis_patterns.locks",
    "django_redis_patterns.leaderboard",
    "arcade",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Django's SessionMiddleware plus IP/browser/"last seen" for the "your devices" page.
    "django_redis_patterns.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication, so rules keyed on the user see it; turns Ratelimited into a 429.
    "django_redis_patterns.ratelimit.middleware.RatelimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# django-debug-toolbar in DEBUG (extra "debug-toolbar"; DEBUG_TOOLBAR=0 turns it off), with the
# Redis panel: every Redis command of the request, by pattern, and what the patterns decided.
DEBUG_TOOLBAR = DEBUG and find_spec("debug_toolbar") is not None and os.environ.get("DEBUG_TOOLBAR", "1") == "1"
if DEBUG_TOOLBAR:
    from debug_toolbar.settings import PANELS_DEFAULTS

    INSTALLED_APPS.append("debug_toolbar")
    MIDDLEWARE.insert(1, "debug_toolbar.middleware.DebugToolbarMiddleware")  # early, after SecurityMiddleware
    INTERNAL_IPS = ["127.0.0.1", "::1"]
    DEBUG_TOOLBAR_PANELS = [*PANELS_DEFAULTS, "django_redis_patterns.contrib.debug_toolbar.RedisPanel"]
    DEBUG_TOOLBAR_CONFIG = {"SHOW_COLLAPSED": True}  # a "DJDT" tab at the edge until clicked

ROOT_URLCONF = "arcade.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
WSGI_APPLICATION = "arcade.wsgi.application"
ASGI_APPLICATION = "arcade.asgi.application"


def database_from_url(url: str) -> dict[str, object]:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        name = unquote(parts.path[1:] if parts.path.startswith("//") else parts.path) or ":memory:"
        # Several gunicorn workers write at once: wait for the file lock instead of failing, and
        # take it when a transaction starts (a read that later writes would otherwise fail at once).
        options: dict[str, object] = {"timeout": 20}
        if django.VERSION >= (5, 1):
            options["transaction_mode"] = "IMMEDIATE"
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": name, "OPTIONS": options}
    if parts.scheme in ("postgres", "postgresql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": parts.path.lstrip("/") or "postgres",
            "USER": unquote(parts.username or "postgres"),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "127.0.0.1",
            "PORT": str(parts.port or 5432),
            "CONN_MAX_AGE": 60,
        }
    raise ValueError(f"DATABASE_URL: unsupported scheme {parts.scheme!r} (use sqlite:/// or postgres://)")


DATABASES = {"default": database_from_url(os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"))}

# -- Redis: one alias, every pattern reaches Redis through it ----------------------------------
REDIS_URL = private_redis.redis_url()
CACHES = {
    "default": {
        "BACKEND": "django_redis_patterns.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "arcade",
    }
}
# Sessions in Redis (SESSION_CACHE_ALIAS, default "default"), with a per-user index.
SESSION_ENGINE = "django_redis_patterns.sessions.backend"
# request.user (and request.user.player) from Redis too: one GET instead of SQL per request;
# saving the user or its player makes the copy out of date at once. It is Django's ModelBackend
# otherwise (passwords, permissions, inactive users), so it is listed alone: login(request, user)
# needs no backend= argument.
AUTHENTICATION_BACKENDS = ["django_redis_patterns.sessions.auth.CachedModelBackend"]

REDIS_PATTERNS: dict[str, dict[str, Any]] = {
    # Redis down: visitors are treated as logged out (pages still render) rather than getting a 500.
    # request.user.player comes with the cached user (CachedModelBackend): no query per page.
    "SESSIONS": {
        "ON_ERROR": "anonymous",
        "USER_SELECT_RELATED": ["player"],
        "MIN_REPLICAS": int(os.environ.get("SESSION_MIN_REPLICAS", "0")),
    },
    "RATELIMIT": {
        "ALGORITHM": "gcra",
        "HEADERS": "draft",  # RateLimit / RateLimit-Policy on limited routes
        "VIEW": "arcade.views.ratelimited",  # the friendly 429 page / problem+json
        "RULES": [
            # Brute-force protection: password guesses per client address.
            {"path": "/login/", "methods": ["POST"], "key": "ip", "rate": "10/m;50/h", "group": "login"},
            {"path": "/admin/login/", "methods": ["POST"], "key": "ip", "rate": "10/m;50/h", "group": "login"},
        ],
    },
    "LEADERBOARD": {"PERIOD_RETAIN": 2},  # last week's board stays readable for close_season
}

if ARCADE_STACK == "today":
    # What most projects run today: the load benchmark compares the two stacks in one run.
    INSTALLED_APPS.append("django_ratelimit")
    CACHES["default"]["BACKEND"] = "django_redis.cache.RedisCache"
    CACHES["default"]["KEY_PREFIX"] = "arcade-today"  # its own keys: the two stacks may share a server
    SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]  # Django's default
    MIDDLEWARE[MIDDLEWARE.index("django_redis_patterns.sessions.middleware.SessionMiddleware")] = (
        "django.contrib.sessions.middleware.SessionMiddleware"
    )
    MIDDLEWARE[MIDDLEWARE.index("django_redis_patterns.ratelimit.middleware.RatelimitMiddleware")] = (
        "django_ratelimit.middleware.RatelimitMiddleware"
    )
    RATELIMIT_VIEW = "arcade.views.ratelimited"
    del REDIS_PATTERNS["RATELIMIT"]["RULES"]  # login: see arcade/urls.py (django-ratelimit decorator)

if os.environ.get("ARCADE_FAST_PASSWORD_HASHER") == "1":  # tests and the load benchmark only
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# -- behind TLS (HTTPS=1): what `manage.py check --deploy` asks for --------------------------
if os.environ.get("HTTPS") == "1":
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", "3600"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django_redis_patterns": {"handlers": ["console"], "level": "WARNING"},
        # A 500's traceback in the server's log also when DEBUG=0 (Django's default sends it to mail_admins only).
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
