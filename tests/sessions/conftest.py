"""Fixtures of the session engine tests: our engine and middleware on the test topology."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from django_redis_patterns.client import connections
from django_redis_patterns.sessions.errors import incidents

ENGINE = "django_redis_patterns.sessions.backend"
MIDDLEWARE = [
    "django_redis_patterns.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]


@pytest.fixture(autouse=True)
def session_engine(settings: Any) -> Iterator[None]:
    """Every test here uses our engine and middleware, on CACHES["default"] (the topology)."""
    settings.SESSION_ENGINE = ENGINE
    settings.SESSION_CACHE_ALIAS = "default"
    settings.MIDDLEWARE = MIDDLEWARE
    settings.ROOT_URLCONF = "tests.sessions.urls"
    incidents.reset()
    yield
    incidents.reset()


@pytest.fixture
def sessions_setting(settings: Any) -> Callable[..., None]:
    """``sessions_setting(MIN_REPLICAS=1, ...)``: set REDIS_PATTERNS["SESSIONS"] keys for this test."""

    def apply(**values: Any) -> None:
        current = dict(getattr(settings, "REDIS_PATTERNS", None) or {})
        current["SESSIONS"] = {**current.get("SESSIONS", {}), **values}
        settings.REDIS_PATTERNS = current

    return apply


def point_default_at(settings: Any, location: Any, **options: Any) -> None:
    """CACHES["default"] -> ``location`` (our backend), clients rebuilt."""
    config: dict[str, Any] = {"BACKEND": "django_redis_patterns.cache.RedisCache", "LOCATION": location}
    if options:
        config["OPTIONS"] = options
    settings.CACHES = {**settings.CACHES, "default": config}
    connections.reset()


def command_counts(group: Any) -> dict[str, int]:
    """Calls per command summed over the group's data nodes (INFO commandstats)."""
    totals: dict[str, int] = {}
    for client in group.data_clients():
        with client:
            for name, stats in client.info("commandstats").items():
                command = name.removeprefix("cmdstat_")
                totals[command] = totals.get(command, 0) + int(stats["calls"])
    return totals


def reset_command_counts(group: Any) -> None:
    for client in group.data_clients():
        with client:
            client.config_resetstat()


@pytest.fixture
def sessions_admin() -> Any:
    from django.contrib import admin
    from django.contrib.auth import get_user_model

    from django_redis_patterns.sessions.admin import register_user_sessions_admin

    user_model = get_user_model()
    original = type(admin.site._registry[user_model])
    combined = register_user_sessions_admin()
    _reload_urls()  # a project calls it from admin.py, before its URLconf is imported
    yield combined
    admin.site.unregister(user_model)
    admin.site.register(user_model, original)
    _reload_urls()


def _reload_urls() -> None:
    import importlib

    from django.urls import clear_url_caches

    import tests.sessions.urls

    importlib.reload(tests.sessions.urls)
    clear_url_caches()


def cached_copy(user: Any) -> Any:
    """The cached copy of ``user`` (CachedModelBackend), or None, whether current or not.

    Read as the backend reads it: raw bytes, a signed record (never through the cache API)."""
    from django.core.cache import cache

    from django_redis_patterns import get_redis
    from django_redis_patterns.sessions import auth, userrecords
    from django_redis_patterns.sessions.auth import CachedModelBackend

    key = auth._Keys(user.pk, CachedModelBackend).copy
    stored = get_redis("default").get(cache.make_key(key))
    return None if stored is None else userrecords.unpack(key, stored, type(user), auth.related_names())[1]
