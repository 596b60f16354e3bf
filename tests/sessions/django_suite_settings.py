"""Settings for running Django's own SessionTestsMixin against our engine (see django_suite.py)."""

from __future__ import annotations

import os

SECRET_KEY = "django-suite-not-secret"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django_redis_patterns",
    "django_redis_patterns.sessions",
    "sessions_tests",  # Django's test app (models the module imports), from the sdist
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
CACHES = {
    "default": {
        "BACKEND": "django_redis_patterns.cache.RedisCache",
        "LOCATION": os.environ["DRP_SESSIONS_LOCATION"],
    }
}
SESSION_ENGINE = "django_redis_patterns.sessions.backend"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
