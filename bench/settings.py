"""Django settings for benchmarks: one alias per contender, all on the bench server."""

from __future__ import annotations

import os

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
SECRET_KEY = "bench"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django_redis_patterns",
    "django_redis_patterns.cache",
    "django_redis_patterns.sessions",
    "django_redis_patterns.ratelimit",
    "django_redis_patterns.locks",
    "django_redis_patterns.leaderboard",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
CACHES = {
    "default": {"BACKEND": "django_redis_patterns.cache.RedisCache", "LOCATION": URL},
    "django_redis": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": URL},
    "builtin": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": URL},
    "near": {
        "BACKEND": "django_redis_patterns.cache.RedisCache",
        "LOCATION": URL,
        "OPTIONS": {"NEAR_CACHE": {"KEYS": ["bench:hot:*", "bench:mem:*"], "MAX_ENTRIES": 20_000}},
    },
}
