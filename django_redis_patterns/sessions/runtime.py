"""The engine's resolved configuration: alias, key prefix and behaviour, read once per settings change."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

from ..exceptions import ImproperlyConfigured
from . import conf

ON_ERROR_CHOICES = ("raise", "anonymous")
ON_REPLICATION_TIMEOUT_CHOICES = ("log", "raise")
#: MIGRATE_FROM values: Django's engines whose sessions can be carried over.
MIGRATE_FROM_CHOICES = ("cache", "cached_db")


@dataclasses.dataclass(frozen=True)
class Runtime:
    alias: str
    prefix: str
    on_error: str
    min_replicas: int
    wait_ms: int
    on_replication_timeout: str
    index: bool
    refresh_ms: int
    #: Index entries whose expiry is this far in the past are pruned. Generous on purpose:
    #: the index is refreshed at most every INDEX_REFRESH, and app/Redis clocks may differ.
    grace_ms: int
    client_ip: Any
    #: MIGRATE_FROM (None: off) and the cache alias the old engine used.
    migrate_from: str | None = None
    migrate_alias: str = ""
    #: Whether migrate_alias is a Redis alias (its entries' remaining lifetime can be read).
    migrate_ttl: bool = False


def validate(s: conf.SessionSettings) -> None:
    """Raise ImproperlyConfigured naming the first bad key (also used by the system check)."""
    where = 'REDIS_PATTERNS["SESSIONS"]'
    if s.ON_ERROR not in ON_ERROR_CHOICES:
        raise ImproperlyConfigured(f"{where}['ON_ERROR'] must be one of {ON_ERROR_CHOICES}, got {s.ON_ERROR!r}")
    if s.ON_REPLICATION_TIMEOUT not in ON_REPLICATION_TIMEOUT_CHOICES:
        raise ImproperlyConfigured(
            f"{where}['ON_REPLICATION_TIMEOUT'] must be one of {ON_REPLICATION_TIMEOUT_CHOICES}, "
            f"got {s.ON_REPLICATION_TIMEOUT!r}"
        )
    if not isinstance(s.MIN_REPLICAS, int) or isinstance(s.MIN_REPLICAS, bool) or s.MIN_REPLICAS < 0:
        raise ImproperlyConfigured(f"{where}['MIN_REPLICAS'] must be an int >= 0, got {s.MIN_REPLICAS!r}")
    if not isinstance(s.MIN_REPLICAS_TIMEOUT, int | float) or s.MIN_REPLICAS_TIMEOUT <= 0:
        raise ImproperlyConfigured(
            f"{where}['MIN_REPLICAS_TIMEOUT'] must be a number of seconds > 0, got {s.MIN_REPLICAS_TIMEOUT!r}"
        )
    if not isinstance(s.INDEX_REFRESH, int) or isinstance(s.INDEX_REFRESH, bool) or s.INDEX_REFRESH <= 0:
        raise ImproperlyConfigured(f"{where}['INDEX_REFRESH'] must be an int of seconds > 0, got {s.INDEX_REFRESH!r}")
    if not isinstance(s.USER_CACHE_TIMEOUT, int) or isinstance(s.USER_CACHE_TIMEOUT, bool) or s.USER_CACHE_TIMEOUT <= 0:
        raise ImproperlyConfigured(
            f"{where}['USER_CACHE_TIMEOUT'] must be an int of seconds > 0, got {s.USER_CACHE_TIMEOUT!r}"
        )
    if s.USER_SELECT_RELATED:
        from .auth import related_problem

        problem = related_problem(s.USER_SELECT_RELATED)
        if problem:
            raise ImproperlyConfigured(problem)
    if not isinstance(s.KEY_PREFIX, str):
        raise ImproperlyConfigured(f"{where}['KEY_PREFIX'] must be a string, got {s.KEY_PREFIX!r}")
    if not isinstance(s.INDEX, bool):
        raise ImproperlyConfigured(f"{where}['INDEX'] must be True or False, got {s.INDEX!r}")
    if s.CLIENT_IP is not None and not isinstance(s.CLIENT_IP, str):
        raise ImproperlyConfigured(f"{where}['CLIENT_IP'] must be a dotted path or None, got {s.CLIENT_IP!r}")


def migration_problem(s: conf.SessionSettings) -> str | None:
    """What is wrong with MIGRATE_FROM / MIGRATE_FROM_ALIAS (redis_patterns.E012), or None."""
    where = 'REDIS_PATTERNS["SESSIONS"]'
    if s.MIGRATE_FROM is None:
        return None
    if s.MIGRATE_FROM not in MIGRATE_FROM_CHOICES:
        return f"{where}['MIGRATE_FROM'] must be None or one of {MIGRATE_FROM_CHOICES}, got {s.MIGRATE_FROM!r}"
    alias = s.MIGRATE_FROM_ALIAS
    if alias is None:
        alias = getattr(settings, "SESSION_CACHE_ALIAS", "default")
    elif not isinstance(alias, str):
        return f"{where}['MIGRATE_FROM_ALIAS'] must be a cache alias or None, got {alias!r}"
    if alias not in (getattr(settings, "CACHES", None) or {}):
        if s.MIGRATE_FROM_ALIAS is not None:
            return f"{where}['MIGRATE_FROM_ALIAS']: cache alias {alias!r} is not in CACHES"
        return f"{where}['MIGRATE_FROM']: SESSION_CACHE_ALIAS {alias!r} (set MIGRATE_FROM_ALIAS) is not in CACHES"
    if s.MIGRATE_FROM == "cached_db":
        from django.apps import apps

        if not apps.is_installed("django.contrib.sessions"):
            return f"{where}['MIGRATE_FROM'] = 'cached_db' needs 'django.contrib.sessions' in INSTALLED_APPS"
    return None


def _build() -> Runtime:
    s = conf.get()
    validate(s)
    problem = migration_problem(s)
    if problem:
        raise ImproperlyConfigured(problem)
    alias = getattr(settings, "SESSION_CACHE_ALIAS", "default")
    from ..client import connections

    cache_prefix = connections.cache_config(alias).get("KEY_PREFIX") or ""
    client_ip = None
    if s.CLIENT_IP:
        from django.utils.module_loading import import_string

        try:
            client_ip = import_string(s.CLIENT_IP)
        except ImportError as exc:
            raise ImproperlyConfigured(f'REDIS_PATTERNS["SESSIONS"]["CLIENT_IP"]: cannot import {s.CLIENT_IP!r}: {exc}')
    prefix = f"{cache_prefix}:{s.KEY_PREFIX}" if cache_prefix else s.KEY_PREFIX
    from ..cache import keyspace

    if keyspace.overlaps(cache_prefix, prefix):
        # The cache's clear() owns "<KEY_PREFIX>:<integer>:"; sessions there would be cleared with it.
        raise ImproperlyConfigured(
            f"REDIS_PATTERNS['SESSIONS']['KEY_PREFIX'] = {s.KEY_PREFIX!r} puts sessions in the keyspace of "
            f"cache {alias!r} ('<KEY_PREFIX>:<integer>:'), whose clear() would delete them (redis_patterns.E052)"
        )
    return Runtime(
        alias=alias,
        prefix=prefix,
        on_error=s.ON_ERROR,
        min_replicas=s.MIN_REPLICAS,
        wait_ms=max(1, int(s.MIN_REPLICAS_TIMEOUT * 1000)),
        on_replication_timeout=s.ON_REPLICATION_TIMEOUT,
        index=s.INDEX,
        refresh_ms=s.INDEX_REFRESH * 1000,
        grace_ms=(2 * s.INDEX_REFRESH + 3600) * 1000,
        client_ip=client_ip,
        migrate_from=s.MIGRATE_FROM,
        migrate_alias=(s.MIGRATE_FROM_ALIAS or alias) if s.MIGRATE_FROM else "",
        migrate_ttl=bool(s.MIGRATE_FROM) and _is_redis_alias(s.MIGRATE_FROM_ALIAS or alias),
    )


def _is_redis_alias(alias: str) -> bool:
    from ..client import connections

    try:
        connections.cache_config(alias)
    except ImproperlyConfigured:
        return False
    return True


_current: list[Runtime] = []


def current() -> Runtime:
    if not _current:
        _current.append(_build())
    return _current[0]


def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting in ("CACHES", "SESSION_CACHE_ALIAS", conf_name()):
        _current.clear()


def conf_name() -> str:
    from .. import conf as core_conf

    return core_conf.SETTING_NAME


setting_changed.connect(_reset, dispatch_uid="django_redis_patterns.sessions.runtime.reset")
