"""Django settings for the test suite.

``tests/conftest.py`` starts a private redis-server before Django is set up and exports
its URL as ``DRP_TEST_REDIS_URL``; nothing here touches the shared server on 6379.
Set ``DRP_TEST_DATABASE=postgres`` to run on PostgreSQL (127.0.0.1:5432, trust auth).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# The example project's app "arcade" is tested in tests/example; make it importable wherever these settings load.
sys.path.append(str(Path(__file__).resolve().parent.parent / "example_project"))

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_redis_patterns",
    "django_redis_patterns.cache",
    "django_redis_patterns.sessions",
    "django_redis_patterns.ratelimit",
    "django_redis_patterns.locks",
    "django_redis_patterns.leaderboard",
    "tests.testapp",
    "tests.locks_app",
    "tests.leaderboard_app",
    "arcade",  # the example project (example_project/ is on sys.path, see above): tests/example
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

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

REDIS_URL = os.environ.get("DRP_TEST_REDIS_URL", "redis://127.0.0.1:1/0")

CACHES = {
    "default": {
        "BACKEND": "django_redis_patterns.cache.RedisCache",
        "LOCATION": REDIS_URL,
    }
}

if os.environ.get("DRP_TEST_DATABASE") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "test",
            "HOST": "127.0.0.1",
            "PORT": "5432",
            "USER": "postgres",
            # One test database per run, so parallel runs on one machine never collide.
            "TEST": {"NAME": f"test_drp_{os.getpid()}"},
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING_CONFIG = None
