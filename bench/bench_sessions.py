"""Session engines: a request's load -> modify -> save, and a login/logout cycle.

Contenders, all on the same bench Redis:
* ours: ``django_redis_patterns.sessions.backend`` (with its per-user index at login);
* Django's ``cache`` engine over django-redis, and over Django's built-in RedisCache;
* django-redis-sessions (``redis_sessions.session``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.sessions.backends.cache import SessionStore as CacheSessionStore
from django.core.cache import caches
from redis.connection import AbstractConnection

AUTH = {
    "_auth_user_id": "42",
    "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
    "_auth_user_hash": "0" * 64,
}


def _cache_engine(alias: str) -> type:
    class Store(CacheSessionStore):
        def __init__(self, session_key: str | None = None) -> None:
            super().__init__(session_key)
            self._cache = caches[alias]

    return Store


def _request(store_cls: type, key: str) -> Any:
    def one() -> None:
        s = store_cls(key)
        s["views"] = s.get("views", 0) + 1
        s.save()

    return one


def _arequest(store_cls: type, key: str) -> Any:
    async def one() -> None:
        s = store_cls(key)
        await s.aset("views", (await s.aget("views", 0)) + 1)
        await s.asave()

    return one


def _login_cycle(store_cls: type) -> Any:
    def one() -> None:
        s = store_cls()
        s["cart"] = [1, 2, 3]
        s.save()  # the anonymous visitor's session
        s.cycle_key()  # login(): new key, same data
        s.update(AUTH)
        s.save()
        s.flush()  # logout()

    return one


def _seed(store_cls: type) -> str:
    s = store_cls()
    s.update({"cart": list(range(10)), "theme": "dark", "views": 0})
    s.save()
    return s.session_key  # type: ignore[no-any-return]


def _round_trips(fn: Any) -> int:
    """Round trips one call makes (writes to a socket; a pipeline is one), a figure load cannot blur."""
    original = AbstractConnection.send_packed_command
    count = 0

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal count
        count += 1
        return original(self, *args, **kwargs)

    fn()  # warm: scripts loaded, connections open
    AbstractConnection.send_packed_command = counting  # type: ignore[method-assign]
    try:
        fn()
    finally:
        AbstractConnection.send_packed_command = original  # type: ignore[method-assign]
    return count


def run(ctx: Any) -> None:
    parts = urlsplit(ctx.url)
    # Its default socket timeout (0.1 s) fails under load; give it the same 2 s as ours.
    settings.SESSION_REDIS = {"url": f"redis://{parts.hostname}:{parts.port}/15", "prefix": "rs", "socket_timeout": 2}
    from redis_sessions.session import SessionStore as RedisSessionsStore  # reads SESSION_REDIS on import

    from django_redis_patterns.sessions.backend import SessionStore as Ours

    engines = {
        "ours": Ours,
        "cache engine + django-redis": _cache_engine("django_redis"),
        "cache engine + Django RedisCache": _cache_engine("builtin"),
        "django-redis-sessions": RedisSessionsStore,
    }
    keys = {name: _seed(cls) for name, cls in engines.items()}
    for name, cls in engines.items():
        ctx.record("round trips per load→modify→save", name, _round_trips(_request(cls, keys[name])))
        ctx.record("round trips per login cycle", name, _round_trips(_login_cycle(cls)))
    ctx.compare(
        "session load→modify→save (request)",
        {name: _request(cls, keys[name]) for name, cls in engines.items()},
        number=600,
    )
    ctx.compare(
        "session login cycle (create, cycle_key, save, flush)",
        {name: _login_cycle(cls) for name, cls in engines.items()},
        number=150,
    )
    async_engines = {k: v for k, v in engines.items() if k != "django-redis-sessions"}
    ctx.compare(
        "async session load→modify→save",
        {name: _arequest(cls, keys[name]) for name, cls in async_engines.items()},
        number=400,
        is_async=True,
        notes={"cache engine + django-redis": "sync_to_async", "cache engine + Django RedisCache": "sync_to_async"},
    )
