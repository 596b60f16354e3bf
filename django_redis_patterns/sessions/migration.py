"""``MIGRATE_FROM``: the old engine's side of carrying sessions over from Django's engines.

Reached only when this store has no session for a key and ``MIGRATE_FROM`` is set, so a
hit never pays for it. The backend then:

1. :func:`lookup` — reads the old copy: the cache entry
   ``"django.contrib.sessions.cache" + key`` (``"cache"``), or for ``"cached_db"`` the
   entry ``"django.contrib.sessions.cached_db" + key`` and, when the cache has none, the
   unexpired row of ``django_session`` — with its remaining lifetime;
2. stores it in this engine's format with ``SET NX`` (a concurrent request that won that
   race is read instead);
3. :func:`claim` — deletes the old copy (cache entry, and the row for ``cached_db``). If
   nothing was there to delete, someone deleted it after step 1 — the old engine logging
   the user out on a server not switched yet, or another request that migrated it and was
   then logged out — so the copy from step 2 is deleted again instead of resurrecting it.

The remaining lifetime is the old cache entry's ``PTTL`` on a Redis alias, the row's
``expire_date`` for a database row, and otherwise (a non-Redis cache, an entry without
expiry) the session's own expiry age, as if it had just been saved.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from django.contrib.sessions.backends import cache as django_cache
from django.contrib.sessions.backends import cached_db as django_cached_db
from django.contrib.sessions.backends import db as django_db
from django.core.cache import caches
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from ..client import connections
from ..exceptions import RedisUnavailable
from . import errors
from .runtime import Runtime

logger = logging.getLogger("django_redis_patterns.sessions")

#: The old engines' cache key prefixes (Django's own constants).
CACHE_PREFIXES = {"cache": django_cache.KEY_PREFIX, "cached_db": django_cached_db.KEY_PREFIX}
#: Errors meaning "the old store cannot answer now" (handled like this store's own: ON_ERROR).
UNAVAILABLE: tuple[type[BaseException], ...] = (RedisUnavailable, OperationalError, InterfaceError, *errors.UNAVAILABLE)


@dataclasses.dataclass(frozen=True)
class Found:
    data: dict[str, Any]
    #: Milliseconds the old copy had left; None: unknown (use the session's expiry age).
    ttl_ms: int | None


def _old_key(rt: Runtime, key: str) -> str:
    return CACHE_PREFIXES[rt.migrate_from] + key  # type: ignore[index]


def _unavailable(rt: Runtime, command: str, exc: BaseException) -> errors.SessionUnavailable:
    """Log (once per incident) and wrap an old-store failure, to be raised like this store's own."""
    alias = rt.migrate_alias
    errors.incidents.failed(alias, command, exc, rt.on_error)
    return errors.SessionUnavailable(
        f"old session store unavailable (MIGRATE_FROM={rt.migrate_from!r}, cache alias {alias!r}, {command}): {exc}",
        alias=alias,
        command=command,
    )


def _is_unavailable(exc: BaseException) -> bool:
    # django-redis wraps redis-py's errors (ConnectionInterrupted from the redis error).
    return isinstance(exc, UNAVAILABLE) or isinstance(exc.__cause__, UNAVAILABLE)


def _unreadable(rt: Runtime, exc: Exception) -> Any:
    """The old cache entry could not be read: an outage is raised (ON_ERROR), anything else
    (e.g. a pickle that no longer loads) is logged and the session counts as not found."""
    if _is_unavailable(exc):
        raise _unavailable(rt, "GET", exc) from exc
    logger.warning("MIGRATE_FROM: could not read the old session (%s: %s)", type(exc).__name__, exc)
    return None


def _cached(data: Any) -> dict[str, Any] | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        logger.warning("MIGRATE_FROM: the old cache entry holds a %s, not a dict; ignored", type(data).__name__)
        return None
    return data


def _from_row(row: tuple[str, Any] | None) -> Found | None:
    if row is None:
        return None
    session_data, expire_date = row
    data = django_db.SessionStore().decode(session_data)  # {} when tampered with / unreadable
    ttl_ms = int((expire_date - timezone.now()).total_seconds() * 1000)
    return Found(data, ttl_ms) if data and ttl_ms > 0 else None


def _rows(key: str) -> Any:
    model = django_db.SessionStore.get_model_class()
    return model.objects.filter(session_key=key)


def _ttl(pttl: int) -> int | None:
    return pttl if pttl > 0 else None  # -1: no expiry, -2: gone meanwhile (claim() decides)


# -- sync -------------------------------------------------------------------------------


def lookup(rt: Runtime, key: str) -> Found | None:
    """The old engine's session for ``key`` and its remaining lifetime, or None."""
    cache, old_key = caches[rt.migrate_alias], _old_key(rt, key)
    try:
        data = cache.get(old_key)
    except Exception as exc:
        data = _unreadable(rt, exc)
    cached = _cached(data)
    if cached is not None:
        ttl_ms = None
        if rt.migrate_ttl:
            try:
                ttl_ms = _ttl(connections.get_redis(rt.migrate_alias).pttl(str(cache.make_key(old_key))))
            except errors.UNAVAILABLE as exc:
                raise _unavailable(rt, "PTTL", exc) from exc
        return Found(cached, ttl_ms)
    if rt.migrate_from != "cached_db":
        return None
    try:
        row = _rows(key).filter(expire_date__gt=timezone.now()).values_list("session_data", "expire_date").first()
    except UNAVAILABLE as exc:
        raise _unavailable(rt, "SELECT django_session", exc) from exc
    return _from_row(row)


def claim(rt: Runtime, key: str) -> bool:
    """Delete the old copy; True if there was one to delete (this request carried it over)."""
    try:
        deleted = bool(caches[rt.migrate_alias].delete(_old_key(rt, key)))
        if rt.migrate_from == "cached_db":
            deleted = _rows(key).delete()[0] > 0 or deleted
    except Exception as exc:
        if _is_unavailable(exc):
            raise _unavailable(rt, "DELETE", exc) from exc
        raise
    return deleted


# -- async (the cache's own async API; Django's ORM for the table) ----------------------


async def alookup(rt: Runtime, key: str) -> Found | None:
    cache, old_key = caches[rt.migrate_alias], _old_key(rt, key)
    try:
        data = await cache.aget(old_key)
    except Exception as exc:
        data = _unreadable(rt, exc)
    cached = _cached(data)
    if cached is not None:
        ttl_ms = None
        if rt.migrate_ttl:
            try:
                client = await connections.aget_redis(rt.migrate_alias)
                ttl_ms = _ttl(await client.pttl(str(cache.make_key(old_key))))
            except errors.UNAVAILABLE as exc:
                raise _unavailable(rt, "PTTL", exc) from exc
        return Found(cached, ttl_ms)
    if rt.migrate_from != "cached_db":
        return None
    try:
        qs = _rows(key).filter(expire_date__gt=timezone.now()).values_list("session_data", "expire_date")
        row = await qs.afirst()
    except UNAVAILABLE as exc:
        raise _unavailable(rt, "SELECT django_session", exc) from exc
    return _from_row(row)


async def aclaim(rt: Runtime, key: str) -> bool:
    try:
        deleted = bool(await caches[rt.migrate_alias].adelete(_old_key(rt, key)))
        if rt.migrate_from == "cached_db":
            deleted = (await _rows(key).adelete())[0] > 0 or deleted
    except Exception as exc:
        if _is_unavailable(exc):
            raise _unavailable(rt, "DELETE", exc) from exc
        raise
    return deleted
