"""What a project moving from django-redis relies on, on real Redis (the peer's own suite is
in tests/peers/; these are ours, and also cover Cluster and the async twins)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import redis
from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT

from django_redis_patterns import get_redis
from django_redis_patterns.cache import RedisCache
from django_redis_patterns.cache.errors import CacheError
from tests.cache.conftest import point_default_at
from tests.topologies import SHORT_COOLDOWN, all_topologies, standalone_and_cluster

MAX_INT64 = 2**63 - 1


def reverse_hash_key(key: str) -> str:
    return key.split("#", 2)[2]


def hash_key(key: str, prefix: str, version: Any) -> str:
    return f"{prefix}#{version}#{key}"


@all_topologies
async def test_incr_past_64_bits_falls_back_to_python_integers(api: Any) -> None:
    await api.set("big", MAX_INT64, 100)
    assert await api.incr("big") == MAX_INT64 + 1
    assert await api.incr("big", 2) == MAX_INT64 + 3
    assert await api.get("big") == MAX_INT64 + 3
    assert 90 < await api.ttl("big") <= 100  # the fallback keeps the expiry
    assert await api.decr("big", 4) == MAX_INT64 - 1  # back inside 64 bits: INCRBY again
    assert await api.incr("big", 1) == MAX_INT64
    await api.set("huge", 10**30)
    assert await api.incr("huge", 10**30, ignore_key_check=True) == 2 * 10**30
    await api.set("word", "abc")
    with pytest.raises(TypeError, match="not an integer"):
        await api.incr("word")
    with pytest.raises(ValueError, match="not found"):
        await api.incr("missing-big", 10**30)


@standalone_and_cluster
def test_incr_past_64_bits_loses_no_update_under_concurrency(cache: Any) -> None:
    cache.set("big", MAX_INT64)
    threads, per_thread = 6, 25
    barrier = threading.Barrier(threads)

    def work() -> None:
        barrier.wait()
        for _ in range(per_thread):
            cache.incr("big")

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert cache.get("big") == MAX_INT64 + threads * per_thread  # exactly 150 of 150 counted


@all_topologies
async def test_delete_many_returns_how_many_existed(api: Any) -> None:
    await api.set_many({"a": 1, "b": 2, "c": 3})
    assert await api.delete_many(["a", "b", "nope"]) == 2
    assert await api.delete_many(["a", "b"]) == 0
    assert await api.get_many(["a", "b", "c"]) == {"c": 3}
    assert await api.delete_many([]) is None  # Django's contract for no keys


@all_topologies
async def test_expire_with_default_timeout_uses_the_caches_default(api: Any, settings: Any, topology: Any) -> None:
    cache = point_default_at(settings, topology.location, TIMEOUT=120)
    api.cache = cache
    await api.set("k", "v", None)
    assert await api.expire("k", DEFAULT_TIMEOUT) is True
    assert 110 < await api.ttl("k") <= 120
    assert await api.pexpire("k", DEFAULT_TIMEOUT) is True
    assert 110_000 < await api.pttl("k") <= 120_000
    assert await api.expire("nope", DEFAULT_TIMEOUT) is False
    assert await api.expire("k", None) is True  # None: never expires
    assert await api.ttl("k") is None


@all_topologies
def test_reverse_key_function_beside_key_function_makes_keys_work(settings: Any, topology: Any) -> None:
    cache = point_default_at(
        settings,
        topology.location,
        KEY_FUNCTION=f"{__name__}.hash_key",
        REVERSE_KEY_FUNCTION=f"{__name__}.reverse_hash_key",
    )
    for key in ["foo-aa", "foo-ab", "bar"]:
        cache.set(key, 1)
    assert sorted(cache.keys("foo*")) == ["foo-aa", "foo-ab"]
    assert sorted(cache.iter_keys("*")) == ["bar", "foo-aa", "foo-ab"]
    assert get_redis().exists("#1#bar") == 1


def test_key_function_without_reverse_says_what_is_missing(settings: Any, topology: Any) -> None:
    cache = point_default_at(settings, topology.location, KEY_FUNCTION=f"{__name__}.hash_key")
    cache.set("a", 1)
    with pytest.raises(ValueError, match="REVERSE_KEY_FUNCTION"):
        cache.keys("*")


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_refused_connection_is_redis_pys_connection_error(redis_factory: Any, settings: Any, mode: str) -> None:
    group = redis_factory("standalone")
    cache = point_default_at(settings, group.url, OPTIONS={"CIRCUIT_BREAKER_COOLDOWN": SHORT_COOLDOWN})
    cache.set("k", 1)
    group.primary.kill()
    with pytest.raises(redis.exceptions.ConnectionError) as info:
        if mode == "async":
            await cache.aget("k")
        else:
            cache.get("k")
    assert isinstance(info.value, CacheError) and info.value.alias == "default"
    with pytest.raises(redis.exceptions.RedisError):
        cache.set("k", 2)


def test_a_refused_write_is_redis_pys_response_error(topology: Any) -> None:
    cache = caches["default"]
    get_redis().set(":1:not-a-hash", "x")
    with pytest.raises(redis.exceptions.ResponseError) as info:
        cache.hset("not-a-hash", "f", 1)  # WRONGTYPE
    assert isinstance(info.value, CacheError)


@standalone_and_cluster
def test_get_redis_connection_of_django_redis_works_on_our_alias(cache: Any) -> None:
    from django_redis import get_redis_connection

    client = get_redis_connection("default")
    assert client is get_redis("default")
    client.set(cache.client.make_key("raw"), cache.client.encode({"a": 1}))
    assert cache.get("raw") == {"a": 1}
    assert cache.client.decode(get_redis_connection("default", write=False).get(":1:raw")) == {"a": 1}


@standalone_and_cluster
def test_hashes_sets_and_sorted_sets(cache: Any) -> None:
    assert cache.hset("h", "f1", {"v": 1}) == 1
    assert cache.hset("h", mapping={"f2": 2, "f3": "three"}) == 2
    assert cache.hget("h", "f1") == {"v": 1} and cache.hget("h", "f2") == 2 and cache.hget("h", "x", "d") == "d"
    assert sorted(cache.hkeys("h")) == ["f1", "f2", "f3"] and cache.hlen("h") == 3
    assert cache.hdel("h", "f1") == 1 and cache.hexists("h", "f1") is False
    assert get_redis().hkeys(":1:h") == [b"f2", b"f3"] or sorted(get_redis().hkeys(":1:h")) == [b"f2", b"f3"]

    assert cache.sadd("s", "a", "b", 3, ("t", 1)) == 4
    assert cache.smembers("s") == {"a", "b", 3, ("t", 1)}
    assert cache.sismember("s", 3) is True and cache.smismember("s", "a", "zz") == [True, False]
    assert cache.srem("s", "a") == 1 and cache.scard("s") == 3
    assert cache.spop("s", 3) == {"b", 3, ("t", 1)} and cache.spop("s") is None

    assert cache.zadd("z", {"ann": 10, "bob": 20.5, 7: 5}) == 3
    assert cache.zrange("z", 0, -1, withscores=True) == [(7, 5.0), ("ann", 10.0), ("bob", 20.5)]
    assert cache.zrevrange("z", 0, 0) == ["bob"] and cache.zscore("z", 7) == 5.0
    assert cache.zincrby("z", 1, "ann") == 11.0 and cache.zrank("z", "ann") == 1
    assert cache.zrangebyscore("z", 6, 21) == ["ann", "bob"] and cache.zcount("z", "-inf", "+inf") == 3
    assert cache.zpopmax("z") == ("bob", 20.5) and cache.zrem("z", 7) == 1 and cache.zcard("z") == 1


def test_structures_read_what_django_redis_wrote(topology: Any) -> None:
    """Same key making and encoding: a half-migrated fleet shares its sets and sorted sets."""
    from django_redis.cache import RedisCache as DjangoRedisCache

    theirs = DjangoRedisCache(topology.location, {})
    ours = RedisCache(topology.location, {})
    theirs.sadd("tags", "x", 1, {"k": "v"}.get("k"))
    assert ours.smembers("tags") == {"x", 1, "v"}
    ours.zadd("board", {("team", 1): 3.0, 42: 1.0})
    assert theirs.zrange("board", 0, -1, withscores=True) == [(42, 1.0), (("team", 1), 3.0)]
    ours.hset("profile", "name", "Ada")
    assert theirs.hkeys("profile") == ["name"] and theirs.hexists("profile", "name")


@pytest.mark.parametrize("topology", ["cluster"], indirect=True)
def test_multi_key_set_commands_on_cluster_name_the_slot_problem(cache: Any) -> None:
    cache.sadd("{cart}:a", 1, 2)
    cache.sadd("{cart}:b", 2, 3)
    assert cache.sinter("{cart}:a", "{cart}:b") == {2}  # one hash tag: one slot
    assert cache.sunionstore("{cart}:u", "{cart}:a", "{cart}:b") == 3
    assert cache.smove("{cart}:a", "{cart}:b", 1) is True
    cache.sadd("apples", 1)
    cache.sadd("pears", 1)
    with pytest.raises(ValueError, match=r"one hash slot.*hash tag"):
        cache.sdiff("apples", "pears")


def test_close_connection_closes_idle_connections(redis_factory: Any, settings: Any) -> None:
    group = redis_factory("standalone")
    observer = redis.Redis.from_url(group.url)

    def clients() -> int:
        return len(observer.client_list()) - 1  # minus the observer itself

    cache = point_default_at(settings, group.url, OPTIONS={"CLOSE_CONNECTION": True})
    cache.set("k", 1)
    assert clients() == 1
    cache.close()  # what Django's request_finished does
    assert clients() == 0
    assert cache.get("k") == 1  # the pool reconnects on the next call
    keep = point_default_at(settings, group.url)
    keep.set("k", 2)
    keep.close()
    assert clients() >= 1  # without the option, connections stay pooled
    observer.close()
