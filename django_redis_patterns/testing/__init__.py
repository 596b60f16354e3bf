"""Helpers for projects that use django-redis-patterns in their own tests.

Run your tests on fakeredis (in-process, with Lua) instead of a server::

    # settings used by your tests
    from django_redis_patterns.testing import fakeredis_caches
    CACHES = fakeredis_caches("default", "sessions")

or per test::

    from django_redis_patterns.testing import use_fakeredis

    @use_fakeredis()            # also a context manager; empties the fake server first
    def test_signup(client): ...

or, with pytest, the ``fake_redis`` fixture from ``django_redis_patterns.testing.pytest``
(add ``pytest_plugins = ["django_redis_patterns.testing.pytest"]`` to a conftest).

Every alias in one call shares one fake server, the way aliases on one real server do.
Needs ``pip install "fakeredis[lua]"``. Topology-specific behaviour (Sentinel failover,
Cluster slots) needs a real server: see :mod:`django_redis_patterns.testing.servers`.
"""

from __future__ import annotations

from typing import Any

from django.test.utils import override_settings

BACKEND = "django_redis_patterns.cache.RedisCache"


def fakeredis_caches(*aliases: str, server: str = "default", **options: Any) -> dict[str, dict[str, Any]]:
    """A ``CACHES`` dict whose aliases (default: ``"default"``) use an in-process fakeredis."""
    config: dict[str, dict[str, Any]] = {}
    for index, alias in enumerate(aliases or ("default",)):
        entry: dict[str, Any] = {"BACKEND": BACKEND, "LOCATION": f"fakeredis://{server}/{index}"}
        if options:
            entry["OPTIONS"] = dict(options)
        config[alias] = entry
    return config


def flush_fakeredis(server: str = "default") -> None:
    """Empty a fake server (every alias that uses it)."""
    import fakeredis

    from django_redis_patterns.client import connections

    with connections._lock:
        fake = connections._fake_servers.get(server)
    if fake is not None:
        fakeredis.FakeRedis(server=fake).flushall()


class use_fakeredis(override_settings):
    """``override_settings`` pointing the aliases at fakeredis, emptied on entry."""

    def __init__(self, *aliases: str, server: str = "default", **options: Any):
        self._server = server
        super().__init__(CACHES=fakeredis_caches(*aliases, server=server, **options))

    def enable(self) -> None:
        """Point the aliases at fakeredis and empty the fake server."""
        super().enable()
        from django_redis_patterns.client import connections

        connections.reset()
        flush_fakeredis(self._server)

    def disable(self) -> None:
        """Restore the settings and drop the fake clients."""
        super().disable()
        from django_redis_patterns.client import connections

        connections.reset()
