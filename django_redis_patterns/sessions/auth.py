"""Logged-in users from Redis: an authentication backend that caches the user next to the sessions.

Django's ``AuthenticationMiddleware`` reads ``request.user`` with one SQL query per request
(``ModelBackend.get_user``). With sessions in Redis that query is most of what is left of
"who is this?"; :class:`CachedModelBackend` keeps the user row in the sessions' cache alias
(``SESSION_CACHE_ALIAS``) instead, for ``USER_CACHE_TIMEOUT`` seconds, optionally with its
one-to-one profile rows (``USER_SELECT_RELATED``, e.g. ``["profile"]``)::

    AUTHENTICATION_BACKENDS = ["django_redis_patterns.sessions.auth.CachedModelBackend"]

Correctness, not just speed. Each user has a *version* key next to its copy; a copy is only
used while it carries the current version:

* No version, no copy: a copy is only valid while its version key exists and matches. A
  request that finds no version (never written, evicted, lost in a failover to a lagging
  replica) reads the database and writes a new version (``SET NX``) before it does, so
  losing a version can never make an old copy current again.
* Any save or delete of the user (a password change, ``is_active = False``, a new e-mail), or
  of one of its ``USER_SELECT_RELATED`` rows, writes a new random version: at once, and again
  after the transaction commits. The next request reads the database. So a password change
  logs other sessions out at once, as without the cache (the session hash is checked against
  the fresh row).
* A request stores its copy under the version it read *before* reading the database: a
  request that read the old row while the user was being saved stores a copy that is already
  out of date, and is never used.
* ``QuerySet.update()`` and raw SQL send no signal: call :func:`forget_user` after them, or the
  old copy lives on for at most ``USER_CACHE_TIMEOUT``.
* The keys carry a signature of the user model (its fields), of Django's version and of the
  backend, so a deploy that changes any of them never reads an old copy.
* A copy is never a pickle: it is a record of field values signed with a key derived from
  ``SECRET_KEY`` (``SECRET_KEY_FALLBACKS`` accepted), read as raw bytes on the alias's Redis
  client, never through the cache's serializer (:mod:`.userrecords`). Whoever can write to Redis
  can neither run code in the web workers nor log a session in as someone else: anything
  unsigned, badly signed or of an unknown format is ignored (the database answers) and logged
  once per process.
* Redis unreachable: the user is read from the database, as without the cache (one warning
  per incident on the ``django_redis_patterns.sessions`` logger). A version that cannot be
  written is logged as an error: that copy may then live for up to ``USER_CACHE_TIMEOUT``.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from typing import Any

import django
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import BaseCache, caches
from django.db import connections as db_connections
from django.db import transaction
from django.db.models import Model, OneToOneRel

from ..client import connections
from . import conf, userrecords

logger = logging.getLogger("django_redis_patterns.sessions")


class CachedUserMixin:
    """Put in front of any authentication backend with ``get_user(user_id)``: the user it
    returns is cached in ``SESSION_CACHE_ALIAS`` (see the module's docstring)."""

    def get_user(self, user_id: Any) -> Any:
        """The user (and ``USER_SELECT_RELATED`` rows) from Redis when current, else from the database."""
        keys = _Keys(user_id, type(self))
        found = _read(keys)
        user = keys.valid(found)
        if user is not None:
            return user
        version = None if found is None else found[1]  # found is None: the cache failed
        if found is not None and version is None:
            version = _new_version(keys)
        user = super().get_user(user_id)  # type: ignore[misc]
        if user is not None and version is not None:
            _store(keys, version, user)  # the version read *before* the database
        return user

    async def aget_user(self, user_id: Any) -> Any:
        """The async twin of :meth:`get_user`, on ``redis.asyncio``."""
        keys = _Keys(user_id, type(self))
        found = await _aread(keys)
        user = keys.valid(found)
        if user is not None:
            return user
        version = None if found is None else found[1]
        if found is not None and version is None:
            version = await _anew_version(keys)
        parent = getattr(super(), "aget_user", None)  # Django < 5.0 backends have none
        user = await (parent(user_id) if parent else sync_to_async(super().get_user)(user_id))  # type: ignore[misc]
        if user is not None and version is not None:
            await _astore(keys, version, user)
        return user


class RelatedModelBackend(ModelBackend):
    """Django's ``ModelBackend`` reading the user with its ``USER_SELECT_RELATED`` rows, in one query."""

    def get_user(self, user_id: Any) -> Any:
        """The user with its ``USER_SELECT_RELATED`` rows in one query."""
        try:
            user = _users().get(pk=user_id)
        except get_user_model().DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    async def aget_user(self, user_id: Any) -> Any:
        """The async twin of :meth:`get_user`."""
        try:
            user = await _users().aget(pk=user_id)
        except get_user_model().DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None


class CachedModelBackend(CachedUserMixin, RelatedModelBackend):
    """Django's ``ModelBackend``, with the logged-in user (and its ``USER_SELECT_RELATED``
    rows) read from Redis: one round trip, no SQL. Passwords, inactive users and permissions
    are ModelBackend's (permissions are read per request, never cached in Redis), so list it
    instead of ModelBackend, alone: ``login(request, user)`` then needs no ``backend=``."""


def forget_user(user: Any) -> None:
    """Make the cached copy of ``user`` (an instance or a primary key) out of date: after
    ``QuerySet.update()`` or raw SQL, which send no ``post_save``."""
    _bump([user.pk if isinstance(user, Model) else user])


def _users() -> Any:
    return get_user_model()._default_manager.select_related(*related_names())


def related_names() -> list[str]:
    """The one-to-one relations ``CachedModelBackend`` caches with the user (``USER_SELECT_RELATED``)."""
    return list(conf.get().USER_SELECT_RELATED)


def related_problem(names: Any) -> str | None:
    """What is wrong with USER_SELECT_RELATED (redis_patterns.E010), or None."""
    where = 'REDIS_PATTERNS["SESSIONS"]["USER_SELECT_RELATED"]'
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        return f"{where} must be a list of relation names, got {names!r}"
    model = get_user_model()
    for name in names:
        try:
            field = model._meta.get_field(name)
        except Exception:
            return f"{where}: the user model {model._meta.label} has no relation {name!r}"
        if not isinstance(field, OneToOneRel):
            return (
                f"{where}: {name!r} must be a one-to-one relation pointing at the user (a profile row); "
                "only those can be kept up to date when they change"
            )
    return None


# -- signal receivers (connected in SessionsConfig.ready()) -------------------------------------


def row_changed(sender: Any, instance: Any, using: str = "default", **kwargs: Any) -> None:
    """post_save / post_delete of any model: a user, or a USER_SELECT_RELATED row, changed.
    New version now, and again after the commit (a request may read the old row until then)."""
    if not _cached_backends():
        return
    pks = _changed_users(sender, instance, created=bool(kwargs.get("created")))
    if not pks:
        return
    _bump(pks)
    if db_connections[using].in_atomic_block:
        transaction.on_commit(lambda: _bump(pks), using=using)


def _changed_users(sender: Any, instance: Any, *, created: bool) -> list[Any]:
    if issubclass(sender, get_user_model()):  # proxies and subclasses of the user model too
        # A new user has no copy yet (and bumping it would only cost a write).
        return [] if created or instance.pk is None else [instance.pk]
    for name in related_names():
        field = get_user_model()._meta.get_field(name)
        if issubclass(sender, field.related_model):  # type: ignore[arg-type]
            pk = getattr(instance, field.field.attname, None)  # type: ignore[union-attr]
            return [] if pk is None else [pk]
    return []


# -- internals ----------------------------------------------------------------------------------


#: (stored record or None, current version or None), as read in one round trip.
Found = tuple[bytes | None, str | None]

#: A version token as :func:`secrets.token_hex` writes it; anything else in a version key was
#: not written by this package.
_TOKEN_LENGTH = 16
_HEX = frozenset("0123456789abcdef")


class _Keys:
    """A user's copy and its version. The ``{pk}`` hash tag keeps both in one Cluster slot,
    so both are read in one MGET."""

    __slots__ = ("copy", "version")

    def __init__(self, user_id: Any, backend: type) -> None:
        base = f"drp:user:{_signature(backend)}:{{{user_id}}}"
        self.copy, self.version = base, base + ":v"

    def valid(self, found: Found | None) -> Any:
        """The cached user if its copy is a record signed by this site and carries the current
        version, else None.

        No version key means no valid copy: a version lost to eviction or to a failover onto
        a lagging replica must never make a copy from before a password change current again.
        """
        if not found:
            return None
        raw, version = found
        if raw is None or version is None:
            return None
        try:
            copy_version, user = userrecords.unpack(self.copy, raw, get_user_model(), related_names())
        except userrecords.Refused as refused:
            _refused(self.copy, refused.reason)
            return None
        return user if copy_version == version else None


_signatures: dict[tuple[type, tuple[str, ...]], str] = {}
_backends: list[tuple[tuple[str, ...], list[type]]] = []
_failing = threading.Event()
_reported: set[str] = set()


def _signature(backend: type) -> str:
    """Short hash of what a stored user depends on: Django's version, the user model and its
    fields, the related rows read with it, and the backend."""
    related = tuple(related_names())
    try:
        return _signatures[backend, related]
    except KeyError:
        model = get_user_model()
        fields = ",".join(f.attname for f in model._meta.concrete_fields)
        source = (
            f"{django.__version__}|{model._meta.label}|{fields}|{','.join(related)}|"
            f"{backend.__module__}.{backend.__qualname__}"
        )
        _signatures[backend, related] = hashlib.sha1(source.encode()).hexdigest()[:10]
        return _signatures[backend, related]


def _cached_backends() -> list[type]:
    """The backend classes in AUTHENTICATION_BACKENDS that cache users (usually none or one)."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    paths = tuple(getattr(settings, "AUTHENTICATION_BACKENDS", ()))
    if _backends and _backends[0][0] == paths:
        return _backends[0][1]
    found = []
    for path in paths:
        try:
            backend = import_string(path)
        except ImportError:
            continue  # Django reports it when it authenticates
        if isinstance(backend, type) and issubclass(backend, CachedUserMixin):
            found.append(backend)
    _backends[:] = [(paths, found)]
    return found


def _refused(key: str, reason: str) -> None:
    """A value this package did not write (or cannot read) sits under a user key: the database
    answers instead. Logged once per process and reason, never per request."""
    kind = reason.partition(" (")[0]  # the details (which version, which error) vary
    if kind not in _reported:
        _reported.add(kind)
        logger.warning(
            "cached users: ignored the value under %r (%s) and read the user from the database; "
            "further such values are ignored silently",
            key,
            reason,
        )


def _alias() -> str:
    from django.conf import settings

    return getattr(settings, "SESSION_CACHE_ALIAS", "default")


def _cache() -> BaseCache:
    return caches[_alias()]


def _redis() -> tuple[BaseCache, str | None]:
    """The user cache and, when it is a Redis alias, that alias: then users are read and written
    as raw bytes on its client, never through the cache's serializer (pickle by default)."""
    alias = _alias()
    cache = caches[alias]
    from django.conf import settings

    backend = (getattr(settings, "CACHES", {}).get(alias) or {}).get("BACKEND", "")
    return cache, alias if connections.dialect_of(backend) else None


def _token(raw: Any) -> str | None:
    """A version token read back, or None when the key holds something we never write there."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("ascii")
        except UnicodeDecodeError:
            raw = None
    if isinstance(raw, str) and len(raw) == _TOKEN_LENGTH and _HEX.issuperset(raw):
        return raw
    if raw is not None:
        _refused("(a version key)", "a version key not written by this package")
    return None


def _bump(pks: list[Any]) -> None:
    """A new random version for each user: every copy stored before is out of date.

    The version outlives any copy made under the previous one (twice USER_CACHE_TIMEOUT),
    so an expired version can never make an old copy current again."""
    timeout = _version_timeout()
    versions = {_Keys(pk, backend).version: secrets.token_hex(8) for pk in pks for backend in _cached_backends()}
    if not versions:
        return
    try:
        cache, alias = _redis()
        if alias is None:
            cache.set_many(versions, timeout=timeout)
        else:
            pipe = connections.get_redis(alias).pipeline(transaction=False)
            for key, token in versions.items():
                pipe.set(cache.make_key(key), token, ex=timeout)
            pipe.execute()
    except Exception as exc:
        logger.error(
            "could not invalidate the cached user(s) %s (%s: %s): old copies may be served for up to "
            "USER_CACHE_TIMEOUT seconds",
            pks,
            type(exc).__name__,
            exc,
        )


def _version_timeout() -> int:
    # A version outlives any copy made under it (twice USER_CACHE_TIMEOUT); one that expires
    # anyway only costs a database read, since a missing version validates nothing.
    return 2 * conf.get().USER_CACHE_TIMEOUT


def _new_version(keys: _Keys) -> str | None:
    """The user's version when there was none: a new random one, or the one a concurrent
    request wrote first (``add`` is SET NX). None if the cache failed: then store nothing."""
    token = secrets.token_hex(8)
    try:
        cache, alias = _redis()
        if alias is None:
            if cache.add(keys.version, token, timeout=_version_timeout()):
                return token
            current = cache.get(keys.version)
        else:
            client, key = connections.get_redis(alias), cache.make_key(keys.version)
            if client.set(key, token, ex=_version_timeout(), nx=True):
                return token
            current = client.get(key)
    except Exception as exc:
        _failed("write", exc)
        return None
    return _token(current)


async def _anew_version(keys: _Keys) -> str | None:
    token = secrets.token_hex(8)
    try:
        cache, alias = _redis()
        if alias is None:
            if await cache.aadd(keys.version, token, timeout=_version_timeout()):
                return token
            current = await cache.aget(keys.version)
        else:
            client, key = await connections.aget_redis(alias), cache.make_key(keys.version)
            if await client.set(key, token, ex=_version_timeout(), nx=True):
                return token
            current = await client.get(key)
    except Exception as exc:
        _failed("write", exc)
        return None
    return _token(current)


def _found(copy: Any, version: Any) -> Found:
    return (copy if isinstance(copy, bytes) else None), _token(version)


def _read(keys: _Keys) -> Found | None:
    """The copy and its version (one MGET); None when the cache failed."""
    try:
        cache, alias = _redis()
        if alias is None:
            values = cache.get_many([keys.copy, keys.version])
            copy, version = values.get(keys.copy), values.get(keys.version)
        else:
            copy, version = connections.get_redis(alias).mget([cache.make_key(keys.copy), cache.make_key(keys.version)])
    except Exception as exc:  # any cache backend's error: the database answers instead
        _failed("read", exc)
        return None
    _succeeded()
    return _found(copy, version)


async def _aread(keys: _Keys) -> Found | None:
    try:
        cache, alias = _redis()
        if alias is None:
            values = await cache.aget_many([keys.copy, keys.version])
            copy, version = values.get(keys.copy), values.get(keys.version)
        else:
            client = await connections.aget_redis(alias)
            copy, version = await client.mget([cache.make_key(keys.copy), cache.make_key(keys.version)])
    except Exception as exc:
        _failed("read", exc)
        return None
    _succeeded()
    return _found(copy, version)


def _record(keys: _Keys, version: str, user: Any) -> bytes | None:
    try:
        return userrecords.pack(keys.copy, version, user, related_names(), conf.get().USER_CACHE_TIMEOUT)
    except (TypeError, ValueError) as exc:  # a field value JSON cannot hold: this user is not cached
        _refused(keys.copy, f"cannot store this user model's field values ({type(exc).__name__}: {exc})")
        return None


def _store(keys: _Keys, version: str, user: Any) -> None:
    record = _record(keys, version, user)
    if record is None:
        return
    try:
        cache, alias = _redis()
        if alias is None:
            cache.set(keys.copy, record, timeout=conf.get().USER_CACHE_TIMEOUT)
        else:
            connections.get_redis(alias).set(cache.make_key(keys.copy), record, ex=conf.get().USER_CACHE_TIMEOUT)
    except Exception as exc:
        _failed("write", exc)


async def _astore(keys: _Keys, version: str, user: Any) -> None:
    record = _record(keys, version, user)
    if record is None:
        return
    try:
        cache, alias = _redis()
        if alias is None:
            await cache.aset(keys.copy, record, timeout=conf.get().USER_CACHE_TIMEOUT)
        else:
            client = await connections.aget_redis(alias)
            await client.set(cache.make_key(keys.copy), record, ex=conf.get().USER_CACHE_TIMEOUT)
    except Exception as exc:
        _failed("write", exc)


def _failed(what: str, exc: BaseException) -> None:
    if not _failing.is_set():
        _failing.set()
        logger.warning(
            "cached users: the cache failed on %s (%s: %s); users are read from the database until it answers",
            what,
            type(exc).__name__,
            exc,
        )


def _succeeded() -> None:
    if _failing.is_set():
        _failing.clear()
        logger.warning("cached users: the cache answers again")
