"""The check of the redis-py internals the lean clients rely on: each lean client is on where the
installed redis-py has them, and off -- plain redis-py clients, one WARNING, ``redis_status``
says why -- where it does not, with every pattern still working."""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any

import pytest
import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster
from django.core.management import call_command
from django.test import override_settings

from django_redis_patterns import aget_redis, get_redis
from django_redis_patterns.client import compat, connections
from django_redis_patterns.client.compat import Requirement

OURS = "django_redis_patterns.cache.RedisCache"


def _alias(location: str, **options: Any) -> dict[str, Any]:
    return {"default": {"BACKEND": OURS, "LOCATION": location, "OPTIONS": options}}


def _status() -> str:
    out = io.StringIO()
    call_command("redis_status", stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def lean_off(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make the installed redis-py look as if it lacked one name each lean client needs."""

    def switch_off(kind: compat.LeanKind) -> str:
        requirement = Requirement("redis.cluster:RedisCluster", "_drp_no_such_name")
        monkeypatch.setitem(compat.REQUIREMENTS, kind, (*compat.REQUIREMENTS[kind], requirement))
        monkeypatch.setitem(compat._MISSING, kind, compat.missing(kind))
        monkeypatch.setattr(compat, "_warned", set())
        connections.reset()
        return f"redis-py {redis.__version__}: no RedisCluster._drp_no_such_name"

    yield switch_off
    connections.reset()


def test_a_requirement_names_what_is_missing() -> None:
    assert Requirement("redis.cluster:RedisCluster", "execute_command").problem() is None
    assert Requirement("redis.cluster:RedisCluster", "nope").problem() == "no RedisCluster.nope"
    assert Requirement("redis.no_such_module", "x").problem() == "no redis.no_such_module.x"
    assert (
        Requirement("redis.retry:Retry", "call_with_retry", params=("do", "nonexistent_arg")).problem()
        == "Retry.call_with_retry takes no nonexistent_arg"
    )
    assert Requirement("redis.retry:Retry", "nope", absent=True).problem() is None
    assert "not mirror" in (Requirement("redis.retry:Retry", "call_with_retry", absent=True).problem() or "")
    # Instance attributes are found where the class (or a base) assigns them.
    assert Requirement("redis.connection:ConnectionPool", "max_connections", instance=True).problem() is None
    assert Requirement("redis.connection:ConnectionPool", "_drp_nope", instance=True).problem() == (
        "no ConnectionPool._drp_nope"
    )


def test_the_sync_lean_client_is_on_for_every_supported_redis_py() -> None:
    # redis-py >= 5 (the declared floor) has everything LeanRedis uses.
    assert compat.lean_status("sync") == (True, "")


def test_lean_clients_are_built_where_the_check_passes(standalone_server: Any, cluster: Any) -> None:
    from django_redis_patterns.client.leanclient import LeanRedis

    with override_settings(CACHES=_alias(standalone_server.url)):
        assert type(get_redis()) is LeanRedis
        assert "  lean: on" in _status() or not compat.lean_status("async")[0]
    with override_settings(CACHES=_alias(cluster.url)):
        expected = compat.lean_class("cluster") or redis.cluster.RedisCluster
        assert type(get_redis()) is expected


def test_an_unmet_check_builds_plain_clients_warns_once_and_everything_works(
    standalone_server: Any, cluster: Any, lean_off: Any, caplog: pytest.LogCaptureFixture
) -> None:
    for kind in compat.KINDS:
        why = lean_off(kind)
    caplog.set_level(logging.WARNING, logger="django_redis_patterns.client")
    for url, sync_type, async_type in (
        (standalone_server.url, redis.Redis, redis.asyncio.Redis),
        (cluster.url, redis.cluster.RedisCluster, redis.asyncio.cluster.RedisCluster),
    ):
        with override_settings(CACHES=_alias(url)):
            client = get_redis()
            assert type(client) is sync_type
            client.set("compat:k", "v")
            assert client.get("compat:k") == b"v"
            assert client.eval("return redis.call('GET', KEYS[1])", 1, "compat:k") == b"v"
            assert client.delete("compat:k") == 1

            async def use() -> type:
                aclient = await aget_redis()
                await aclient.set("compat:a", "1")
                assert await aclient.incr("compat:a") == 2
                await aclient.delete("compat:a")
                return type(aclient)

            assert asyncio.run(use()) is async_type
            status = _status()
            if sync_type is redis.Redis:
                # (where the asyncio lean client is off anyway, the line names both reasons)
                assert "  lean: off (" in status and why.split(": ", 1)[1] in status
            else:  # the line names the first missing name: on some redis-py a real one comes first
                assert "  lean: off (" in status
    warnings = [r.getMessage() for r in caplog.records if "lean" in r.getMessage()]
    # One WARNING per lean client that was asked for, each naming the missing name.
    assert len(warnings) == 4, warnings
    assert all(f"redis-py {redis.__version__}: " in w for w in warnings)
    # The standalone clients' first missing name is the one this test removed.
    # The sync standalone client's first missing name is the one this test removed (the others
    # may be off anyway on this redis-py, and then name a real missing name first).
    (sync_warning,) = [w for w in warnings if "lean sync client" in w]
    assert "RedisCluster._drp_no_such_name" in sync_warning


def test_patterns_work_with_plain_clients(standalone_server: Any, lean_off: Any) -> None:
    for kind in compat.KINDS:
        lean_off(kind)
    from django.core.cache import caches

    from django_redis_patterns.locks import lock
    from django_redis_patterns.ratelimit import Limiter

    with override_settings(CACHES=_alias(standalone_server.url)):
        cache = caches.create_connection("default")
        cache.set("compat:cache", {"a": 1})
        assert cache.get("compat:cache") == {"a": 1}
        with lock("compat:lock", ttl=5) as held:
            assert held.fencing_token >= 1
        limiter = Limiter("sliding_window")
        results = [limiter.hit("compat:rl", "3/m").allowed for _ in range(5)]
        assert results == [True, True, True, False, False]
        assert type(get_redis()) is redis.Redis


def test_the_option_turns_the_lean_client_off(standalone_server: Any) -> None:
    with override_settings(CACHES=_alias(standalone_server.url, LEAN_CLIENT=False)):
        assert type(get_redis()) is redis.Redis
        assert "  lean: off (OPTIONS['LEAN_CLIENT'] = False)" in _status()
