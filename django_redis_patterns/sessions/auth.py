"""Logged-in users from Redis: an authentication backend that caches the user next to the sessions.

Django's ``AuthenticationMiddleware`` reads ``request.user`` with one SQL query per request
(``ModelBackend.get_user``). With sessions in Redis that query is most of what is left of
"who is this?"; :class:`CachedModelBackend` keeps the user row in the sessions' cache alias
(``SESSION_CACHE_ALIAS``) instead, for ``USER_CACHE_TIMEOUT`` seconds::

    AUTHENTICATION_BACKENDS = ["django_redis_patterns.sessions.auth.CachedModelBackend"]

Correctness, not just speed:

* Any save or delete of a user (a password change, ``is_active = False``, a new e-mail) writes a
  *tombstone* over the cached copy: at once, and again after the transaction commits. A
  request that read the old row from the database just before cannot put it back: copies are
  only ever added with ``SET NX`` (``cache.add``), and the tombstone holds the key for
  ``TOMBSTONE_SECONDS``. So a password change logs other sessions out at once, as without the
  cache (the session hash is checked against the fresh row).
* ``QuerySet.update()`` and raw SQL send no signal: call :func:`forget_user` after them, or the
  old copy lives on for at most ``USER_CACHE_TIMEOUT``.
* The key carries a signature of the user model (its fields) and of Django's version, so a
  deploy that changes either never unpickles an old copy.
* Redis unreachable: the user is read from the database, as without the cache (one warning
  per incident on the ``django_redis_patterns.sessions`` logger). A tombstone that cannot be
  written is logged as an error: that copy may then live for up to ``USER_CACHE_TIMEOUT``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Any

import django
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import BaseCache, caches
from django.db import connections, transaction
from django.db.models import Model

from . import conf

logger = logging.getLogger("django_redis_patterns.sessions")

#: Stored in place of a user that just changed; never a user, so readers go to the database.
TOMBSTONE = "drp:user-changed"
#: How long a tombstone holds the key: far longer than one request's database read.
TOMBSTONE_SECONDS = 10


class CachedUserMixin:
    """Put in front of any authentication backend with ``get_user(user_id)``: the user it
    returns is cached in ``SESSION_CACHE_ALIAS`` (see the module's docstring)."""

    def get_user(self, user_id: Any) -> Any:
        key = user_key(user_id, type(self))
        cached = _read(lambda cache: cache.get(key))
        if _is_user(cached):
            return cached
        user = super().get_user(user_id)  # type: ignore[misc]
        if user is not None and cached is None:  # not over a tombstone (or after a failed read)
            _write(lambda cache: cache.add(key, user, timeout=conf.get().USER_CACHE_TIMEOUT))
        return user

    async def aget_user(self, user_id: Any) -> Any:
        key = user_key(user_id, type(self))
        cached = await _aread(key)
        if _is_user(cached):
            return cached
        parent = getattr(super(), "aget_user", None)  # Django < 5.0 backends have none
        user = await (parent(user_id) if parent else sync_to_async(super().get_user)(user_id))  # type: ignore[misc]
        if user is not None and cached is None:
            await _aadd(key, user)
        return user


class CachedModelBackend(CachedUserMixin, ModelBackend):
    """Django's ``ModelBackend``, with the logged-in user read from Redis (one GET, no SQL)."""


def forget_user(user: Any) -> None:
    """Drop the cached copy of ``user`` (an instance or a primary key) and hold the key with a
    tombstone: after ``QuerySet.update()`` or raw SQL, which send no ``post_save``."""
    pk = user.pk if isinstance(user, Model) else user
    for backend in _cached_backends():
        _tombstone(user_key(pk, backend))


def user_key(user_id: Any, backend: type) -> str:
    return f"drp:user:{_signature(backend)}:{user_id}"


# -- signal receivers (connected in SessionsConfig.ready()) -------------------------------------


def user_changed(sender: Any, instance: Any, using: str = "default", **kwargs: Any) -> None:
    """post_save / post_delete of the user model: tombstone now, and again after the commit
    (a request may read the old row until then)."""
    backends = _cached_backends()
    if not backends or instance.pk is None or kwargs.get("created"):  # a new row has no cached copy
        return
    keys = [user_key(instance.pk, backend) for backend in backends]
    _tombstones(keys)
    if connections[using].in_atomic_block:
        transaction.on_commit(lambda: _tombstones(keys), using=using)


def _tombstones(keys: list[str]) -> None:
    for key in keys:
        _tombstone(key)


# -- internals ----------------------------------------------------------------------------------

_signatures: dict[type, str] = {}
_backends: list[tuple[tuple[str, ...], list[type]]] = []
_failing = threading.Event()


def _signature(backend: type) -> str:
    """Short hash of what a pickled user depends on: Django's version, the user model and its
    fields, and the backend (backends may differ in which users they return)."""
    try:
        return _signatures[backend]
    except KeyError:
        model = get_user_model()
        fields = ",".join(f.attname for f in model._meta.concrete_fields)
        source = f"{django.__version__}|{model._meta.label}|{fields}|{backend.__module__}.{backend.__qualname__}"
        _signatures[backend] = hashlib.sha1(source.encode()).hexdigest()[:10]
        return _signatures[backend]


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


def _cache() -> BaseCache:
    from django.conf import settings

    return caches[getattr(settings, "SESSION_CACHE_ALIAS", "default")]


def _is_user(value: Any) -> bool:
    return value is not None and value != TOMBSTONE


def _read(op: Any) -> Any:
    try:
        value = op(_cache())
    except Exception as exc:  # any cache backend's error: the database answers instead
        _failed("read", exc)
        return TOMBSTONE  # "don't trust, don't store": the caller reads the database
    _succeeded()
    return value


def _write(op: Any) -> None:
    try:
        op(_cache())
    except Exception as exc:
        _failed("write", exc)


def _tombstone(key: str) -> None:
    try:
        _cache().set(key, TOMBSTONE, timeout=TOMBSTONE_SECONDS)
    except Exception as exc:
        logger.error(
            "could not invalidate the cached user %s (%s: %s): its old copy may be served for up to "
            "USER_CACHE_TIMEOUT seconds",
            key,
            type(exc).__name__,
            exc,
        )


async def _aread(key: str) -> Any:
    try:
        value = await _cache().aget(key)
    except Exception as exc:
        _failed("read", exc)
        return TOMBSTONE
    _succeeded()
    return value


async def _aadd(key: str, user: Any) -> None:
    try:
        await _cache().aadd(key, user, timeout=conf.get().USER_CACHE_TIMEOUT)
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
