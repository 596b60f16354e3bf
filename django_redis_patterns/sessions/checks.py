"""System checks of the session engine (ids redis_patterns.E010–E019, W010–W019)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from ..exceptions import ImproperlyConfigured

ENGINE = "django_redis_patterns.sessions.backend"


@register(Tags.compatibility, Tags.caches)
def sessions_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    from .. import conf as core_conf
    from . import conf, runtime

    messages: list[CheckMessage] = []
    try:
        s = conf.get()
    except ImproperlyConfigured:
        return messages  # unknown keys: reported by redis_patterns.E004
    except TypeError as exc:
        return [Error(f'{core_conf.SETTING_NAME}["SESSIONS"] is malformed: {exc}', id="redis_patterns.E010")]
    try:
        runtime.validate(s)
    except ImproperlyConfigured as exc:
        messages.append(Error(str(exc), id="redis_patterns.E010"))
        return messages
    problem = runtime.migration_problem(s)
    if problem:
        messages.append(Error(problem, id="redis_patterns.E012"))
    if "{" in s.KEY_PREFIX:
        messages.append(
            Warning(
                f'{core_conf.SETTING_NAME}["SESSIONS"]["KEY_PREFIX"] = {s.KEY_PREFIX!r} contains a hash tag: '
                "on Redis Cluster every session would live in one slot (one hot shard).",
                id="redis_patterns.W010",
            )
        )
    messages += _cached_users_check()
    if getattr(settings, "SESSION_ENGINE", "") == ENGINE and s.MIN_REPLICAS:
        from ..client import connections

        alias = getattr(settings, "SESSION_CACHE_ALIAS", "default")
        try:
            socket_timeout = connections.spec_for_alias(alias).socket_timeout
        except ImproperlyConfigured:
            return messages  # reported by the core checks
        if socket_timeout is not None and socket_timeout <= s.MIN_REPLICAS_TIMEOUT:
            messages.append(
                Error(
                    f'{core_conf.SETTING_NAME}["SESSIONS"]["MIN_REPLICAS_TIMEOUT"] ({s.MIN_REPLICAS_TIMEOUT} s) '
                    f"must be shorter than the socket timeout of cache alias {alias!r} ({socket_timeout} s), "
                    "or every unacknowledged WAIT ends as a timeout error.",
                    id="redis_patterns.E011",
                )
            )
    return messages


#: Caches that live in one process: another worker's invalidation never reaches them.
PER_PROCESS_CACHES = ("django.core.cache.backends.locmem.LocMemCache", "django.core.cache.backends.dummy.DummyCache")


def _cached_users_check() -> list[CheckMessage]:
    from .auth import _cached_backends

    if not _cached_backends():
        return []
    alias = getattr(settings, "SESSION_CACHE_ALIAS", "default")
    caches = getattr(settings, "CACHES", None) or {}
    if alias not in caches:
        return [
            Error(
                f"AUTHENTICATION_BACKENDS has a cached-user backend, but SESSION_CACHE_ALIAS {alias!r} "
                "is not in CACHES.",
                id="redis_patterns.E013",
            )
        ]
    if caches[alias].get("BACKEND") in PER_PROCESS_CACHES:
        return [
            Warning(
                f"The cached-user backend keeps users in cache alias {alias!r}, a {caches[alias]['BACKEND']}: "
                "a user saved in one process stays cached, unchanged, in the others (use a Redis alias).",
                id="redis_patterns.W011",
            )
        ]
    return []
