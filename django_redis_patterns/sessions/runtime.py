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
    if not isinstance(s.KEY_PREFIX, str):
        raise ImproperlyConfigured(f"{where}['KEY_PREFIX'] must be a string, got {s.KEY_PREFIX!r}")
    if not isinstance(s.INDEX, bool):
        raise ImproperlyConfigured(f"{where}['INDEX'] must be True or False, got {s.INDEX!r}")
    if s.CLIENT_IP is not None and not isinstance(s.CLIENT_IP, str):
        raise ImproperlyConfigured(f"{where}['CLIENT_IP'] must be a dotted path or None, got {s.CLIENT_IP!r}")


def _build() -> Runtime:
    s = conf.get()
    validate(s)
    alias = getattr(settings, "SESSION_CACHE_ALIAS", "default")
    from .. import connections

    cache_prefix = connections.cache_config(alias).get("KEY_PREFIX") or ""
    client_ip = None
    if s.CLIENT_IP:
        from django.utils.module_loading import import_string

        try:
            client_ip = import_string(s.CLIENT_IP)
        except ImportError as exc:
            raise ImproperlyConfigured(f'REDIS_PATTERNS["SESSIONS"]["CLIENT_IP"]: cannot import {s.CLIENT_IP!r}: {exc}')
    return Runtime(
        alias=alias,
        prefix=f"{cache_prefix}:{s.KEY_PREFIX}" if cache_prefix else s.KEY_PREFIX,
        on_error=s.ON_ERROR,
        min_replicas=s.MIN_REPLICAS,
        wait_ms=max(1, int(s.MIN_REPLICAS_TIMEOUT * 1000)),
        on_replication_timeout=s.ON_REPLICATION_TIMEOUT,
        index=s.INDEX,
        refresh_ms=s.INDEX_REFRESH * 1000,
        grace_ms=(2 * s.INDEX_REFRESH + 3600) * 1000,
        client_ip=client_ip,
    )


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
