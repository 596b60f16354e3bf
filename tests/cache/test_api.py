"""The Django cache API and django-redis's extras, sync and async, on every topology."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.cache import caches

from django_redis_patterns import get_redis
from django_redis_patterns.cache import RedisCache
from tests.cache.conftest import Api, counting
from tests.topologies import all_topologies, standalone_and_cluster


@all_topologies
async def test_set_get_add_delete(api: Any) -> None:
    assert await api.get("missing") is None
    assert await api.get("missing", "fallback") == "fallback"
    await api.set("greeting", {"text": "hello", "n": [1, 2]})
    assert await api.get("greeting") == {"text": "hello", "n": [1, 2]}
    await api.set("none", None)
    assert await api.get("none", "fallback") is None
    assert await api.has_key("none") is True
    assert await api.add("greeting", "other") is False
    assert await api.get("greeting") == {"text": "hello", "n": [1, 2]}
    assert await api.add("fresh", "value") is True
    assert await api.get("fresh") == "value"
    assert await api.delete("fresh") is True
    assert await api.delete("fresh") is False
    assert await api.has_key("fresh") is False


@all_topologies
async def test_integers_are_stored_raw_and_incr_decr_follow_django(api: Any, cache: Any) -> None:
    await api.set("hits", 41, 100)
    assert get_redis().get(":1:hits") == b"41"  # raw digits: INCRBY works on it
    assert await api.incr("hits") == 42
    assert await api.incr("hits", 10) == 52
    assert await api.decr("hits", 2) == 50
    assert await api.get("hits") == 50
    assert 90 < (await api.ttl("hits")) <= 100  # incr keeps the key's expiry
    with pytest.raises(ValueError, match="not found"):
        await api.incr("nope")
    assert await api.has_key("nope") is False  # a failed incr creates nothing
    await api.set("word", "abc")
    with pytest.raises(TypeError, match="not an integer"):
        await api.incr("word")
    assert await api.incr("created", 5, ignore_key_check=True) == 5
    await api.set("flag", True)
    assert await api.get("flag") is True  # bools are pickled, not stored as 1


@all_topologies
def test_incr_is_atomic_under_concurrency(cache: Any) -> None:
    cache.set("counter", 0, None)
    threads_n, per_thread = 8, 50
    barrier = threading.Barrier(threads_n)

    def work() -> None:
        barrier.wait()
        for _ in range(per_thread):
            cache.incr("counter")

    threads = [threading.Thread(target=work) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.get("counter") == threads_n * per_thread


@all_topologies
async def test_get_many_set_many_delete_many(api: Any) -> None:
    data = {f"k{i}": {"i": i} for i in range(30)}
    assert await api.set_many(data, 30) == []
    got = await api.get_many([*data, "absent"])
    assert got == data
    for key in ("k0", "k17", "k29"):
        assert 20 < await api.ttl(key) <= 30  # every key got its TTL
    await api.set_many({"forever": 1, "also": None}, None)
    assert await api.ttl("forever") is None
    assert await api.get_many(["forever", "also"]) == {"forever": 1, "also": None}
    await api.delete_many([f"k{i}" for i in range(10)])
    assert await api.get_many([f"k{i}" for i in range(12)]) == {"k10": {"i": 10}, "k11": {"i": 11}}
    assert await api.get_many([]) == {}
    await api.set_many({"gone": 1}, 0)  # expired on arrival: not stored
    assert await api.has_key("gone") is False


@standalone_and_cluster
def test_bulk_calls_are_batched(cache: Any, topology: Any) -> None:
    keys = [f"item:{i}" for i in range(100)]
    cache.set_many({k: k for k in keys}, 60)
    with counting(topology.group) as counts:
        assert len(cache.get_many(keys)) == 100
    assert counts.get("get", 0) == 0
    if topology.kind == "cluster":
        # One MGET per slot, sent as one pipeline per node.
        from redis.crc import key_slot

        assert counts["mget"] == len({key_slot(f":1:{k}".encode()) for k in keys})
    else:
        assert counts["mget"] == 1
    if topology.kind == "standalone":
        cache.set(keys[0], 0)
        cache.incr(keys[0])  # both scripts cached now: a first EVALSHA's NOSCRIPT + EVAL would count too
        with counting(topology.group) as counts:
            cache.set_many({k: 1 for k in keys}, 60)
            cache.incr(keys[0])
        # set_many: one script call whose 100 SETs run inside Redis; incr: one script call
        # (commandstats also counts the commands the scripts run: 100 SET, EXISTS, INCRBY).
        assert counts.get("evalsha", 0) + counts.get("eval", 0) == 2
        assert counts.get("expire", 0) == 0 and counts.get("mset", 0) == 0


@standalone_and_cluster
async def test_concurrent_agets_share_one_mget(cache: Any, topology: Any) -> None:
    keys = [f"a:{i}" for i in range(50)]
    await cache.aset_many({k: i for i, k in enumerate(keys)}, 60)
    with counting(topology.group) as counts:
        values = await asyncio.gather(*(cache.aget(k) for k in keys), cache.aget("a:missing", "dflt"))
    assert values == [*range(50), "dflt"]
    assert counts.get("get", 0) == 0
    if topology.kind == "standalone":
        assert counts["mget"] == 1


@all_topologies
async def test_expiry_extras(api: Any) -> None:
    await api.set("k", "v", 100)
    assert 95 < await api.ttl("k") <= 100
    assert 95_000 < await api.pttl("k") <= 100_000
    assert await api.touch("k", 5) is True
    assert await api.ttl("k") <= 5
    assert await api.touch("k", None) is True
    assert await api.ttl("k") is None
    assert await api.touch("k", None) is True  # already persistent: still there
    assert await api.expire("k", 50) is True
    assert 45 < await api.ttl("k") <= 50
    assert await api.pexpire("k", 20_000) is True
    assert await api.ttl("k") <= 20
    assert await api.persist("k") is True
    assert await api.ttl("k") is None
    when = datetime.now(UTC) + timedelta(seconds=30)
    assert await api.expire_at("k", when) is True
    assert 25 < await api.ttl("k") <= 30
    assert await api.ttl("missing") == 0
    assert await api.touch("missing", 10) is False
    assert await api.expire("missing", 10) is False
    assert await api.persist("missing") is False


@all_topologies
async def test_zero_and_negative_timeouts_expire_at_once(api: Any) -> None:
    await api.set("k", "v", 0)
    assert await api.has_key("k") is False
    await api.set("k", "v")
    await api.set("k", "v2", -1)
    assert await api.has_key("k") is False
    assert await api.add("k", "v", 0) is True  # added and instantly expired, as in Django
    assert await api.has_key("k") is False
    await api.set("k", "v", 0.5)  # sub-second timeouts are honoured (PX), not rounded to 0
    assert await api.get("k") == "v"


@all_topologies
async def test_set_nx_xx(api: Any) -> None:
    assert await api.set("k", 1, nx=True) is True
    assert await api.set("k", 2, nx=True) is False
    assert await api.get("k") == 1
    assert await api.set("other", 1, xx=True) is False
    assert await api.has_key("other") is False
    assert await api.set("k", 3, xx=True) is True
    assert await api.get("k") == 3
    with pytest.raises(ValueError, match="mutually exclusive"):
        await api.set("k", 4, nx=True, xx=True)


@all_topologies
async def test_incr_version_moves_value_and_keeps_ttl(api: Any) -> None:
    await api.set("doc", "body", 100)
    assert await api.incr_version("doc") == 2
    assert await api.get("doc") is None
    assert await api.get("doc", version=2) == "body"
    assert 90 < await api.ttl("doc", version=2) <= 100
    assert await api.decr_version("doc", version=2) == 1
    assert await api.get("doc") == "body"
    with pytest.raises(ValueError, match="not found"):
        await api.incr_version("missing")


@all_topologies
async def test_clear_deletes_only_this_caches_keys(api: Any, settings: Any, topology: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "default": {**topology.cache_config(), "KEY_PREFIX": "mine"},
        "neighbour": {**topology.cache_config(), "KEY_PREFIX": "theirs"},
    }
    mine, theirs = caches["default"], caches["neighbour"]
    api.cache = mine
    await api.set_many({f"k{i}": i for i in range(300)}, 60)  # spread over every Cluster node
    await api.set("v2-key", "x", version=2)
    theirs.set_many({f"k{i}": i for i in range(300)}, 60)
    foreign = get_redis()
    foreign.set("another-app:key", "untouched")
    assert await api.clear() is True
    assert mine.get_many([f"k{i}" for i in range(300)]) == {}
    assert mine.get("v2-key", version=2) is None  # every version of this cache goes
    assert len(theirs.get_many([f"k{i}" for i in range(300)])) == 300
    assert foreign.get("another-app:key") == b"untouched"


@all_topologies
def test_clear_flushdb_is_an_opt_in(settings: Any, topology: Any) -> None:
    settings.CACHES = {**settings.CACHES, "default": topology.cache_config(CLEAR="flushdb")}
    cache = caches["default"]
    cache.set("k", 1)
    get_redis().set("another-app:key", "gone too")
    cache.clear()
    assert get_redis().get("another-app:key") is None
    assert cache.get("k") is None


@all_topologies
async def test_delete_pattern_and_iter_keys_cover_every_primary(api: Any, cache: Any) -> None:
    await api.set_many({f"user:{i}": i for i in range(2500)}, 60)  # more than one SCAN/UNLINK batch
    await api.set_many({f"team:{i}": i for i in range(50)}, 60)
    if api.is_async:
        names = [k async for k in cache.aiter_keys("user:*", itersize=300)]
    else:
        names = list(cache.iter_keys("user:*", itersize=300))
    assert sorted(names) == sorted(f"user:{i}" for i in range(2500))
    assert await api.delete_pattern("user:*", itersize=400) == 2500
    assert cache.keys("user:*") == []
    assert sorted(cache.keys("team:*")) == sorted(f"team:{i}" for i in range(50))
    assert await api.delete_pattern("nothing:*") == 0


@all_topologies
def test_lock_is_held_on_the_cache_key_itself(cache: Any) -> None:
    """django-redis's semantics: the Redis key is the cache key, so has_key() sees the lock."""
    first = cache.lock("nightly-report", timeout=10)
    assert first.acquire(blocking=False) is True
    assert cache.has_key("nightly-report") is True
    assert 0 < get_redis().pttl(":1:nightly-report") <= 10_000  # the cache key, with the TTL asked for
    second = cache.lock("nightly-report", timeout=10)
    assert second.acquire(blocking=False) is False
    first.release()
    assert cache.has_key("nightly-report") is False
    assert second.acquire(blocking=False) is True
    second.release()


def test_lock_excludes_a_process_still_on_django_redis(topology: Any) -> None:
    """During a migration, django-redis's cache.lock() and ours guard the same thing."""
    from django_redis.cache import RedisCache as DjangoRedisCache

    ours = RedisCache(topology.location, {})
    theirs = DjangoRedisCache(topology.location, {})
    held = theirs.lock("deploy", timeout=10)
    assert held.acquire(blocking=False)
    assert ours.lock("deploy").acquire(blocking=False) is False
    held.release()
    mine = ours.lock("deploy", timeout=10)
    assert mine.acquire(blocking=False)
    assert theirs.lock("deploy").acquire(blocking=False) is False
    mine.release()


@all_topologies
def test_lock_thread_local_false_lets_another_thread_release_it(cache: Any) -> None:
    from redis.exceptions import LockError

    shared = cache.lock("job", timeout=10, thread_local=False)
    assert shared.acquire(blocking=False)
    errors: list[BaseException] = []

    def release(lock: Any) -> None:
        try:
            lock.release()
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=release, args=(shared,))
    worker.start()
    worker.join()
    assert errors == [] and cache.has_key("job") is False

    private = cache.lock("job", timeout=10)  # thread_local=True (default): the token stays in this thread
    assert private.acquire(blocking=False)
    worker = threading.Thread(target=release, args=(private,))
    worker.start()
    worker.join()
    # redis-py's Lock raises there (AttributeError: the other thread has no token; LockError
    # on older redis-py), exactly as with django-redis.
    assert len(errors) == 1 and isinstance(errors[0], AttributeError | LockError)
    assert cache.has_key("job") is True  # the other thread could not release it
    private.release()


@all_topologies
async def test_async_lock_excludes_a_second_holder(cache: Any) -> None:
    first = await cache.alock("job", timeout=10)
    assert await first.acquire(blocking=False)
    assert await cache.ahas_key("job") is True
    second = await cache.alock("job", timeout=10)
    assert await second.acquire(blocking=False) is False
    await first.release()
    async with second:
        assert await cache.ahas_key("job") is True
    assert await cache.ahas_key("job") is False


@all_topologies
def test_key_prefix_version_and_key_function(settings: Any, topology: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "default": {**topology.cache_config(), "KEY_PREFIX": "site", "VERSION": 3},
        "custom": {**topology.cache_config(), "KEY_FUNCTION": lambda key, prefix, version: f"custom/{key}"},
    }
    caches["default"].set("k", "v")
    caches["custom"].set("k", "w")
    raw = get_redis()
    assert raw.exists("site:3:k") == 1
    assert raw.exists("custom/k") == 1
    assert caches["custom"].get_many(["k"]) == {"k": "w"}


def test_backend_is_a_django_base_cache_with_every_async_twin() -> None:
    from django.core.cache.backends.base import BaseCache

    for name in dir(BaseCache):
        if name.startswith("a") and callable(getattr(BaseCache, name)) and hasattr(BaseCache, name[1:]):
            assert getattr(RedisCache, name) is not getattr(BaseCache, name), f"{name} falls back to a thread hop"


def _script_calls(counts: dict[str, int]) -> int:
    return counts.get("evalsha", 0) + counts.get("eval", 0)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_bulk_calls_are_one_command_each_on_standalone(topology: Any, cache: Any, mode: str) -> None:
    api = Api(cache, mode == "async")
    keys = [f"bulk:{i}" for i in range(50)]
    await api.set_many({k: f"v{k}" for k in keys}, 60)  # the set_many script is now cached on the server
    with counting(topology.group) as counts:
        assert await api.set_many({k: k for k in keys}, 60) == []
    # one script call; the 50 SETs it runs inside Redis show in commandstats as "set"
    assert _script_calls(counts) == 1, counts
    assert counts.get("mset", 0) == 0 and counts.get("expire", 0) == 0 and counts.get("pexpire", 0) == 0
    assert counts.get("set", 0) == 50
    with counting(topology.group) as counts:
        assert await api.get_many([*keys, "absent"]) == {k: k for k in keys}
    assert counts == {"mget": 1}, counts
    with counting(topology.group) as counts:
        await api.delete_many(keys)
    assert counts == {"del": 1}, counts
    assert await api.get_many(keys) == {}


TWO_SLOT_TAGS = ("a", "b")  # ":1:{a}:…" and ":1:{b}:…" hash to two slots (on two primaries)


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("topology", ["cluster"], indirect=True)
async def test_bulk_calls_on_cluster_are_one_command_per_slot(topology: Any, cache: Any, mode: str) -> None:
    from redis.crc import key_slot

    api = Api(cache, mode == "async")
    keys = [f"{{{tag}}}:{i}" for tag in TWO_SLOT_TAGS for i in range(20)]
    assert len({key_slot(f":1:{k}".encode()) for k in keys}) == 2
    await api.set_many({k: "warm" for k in keys}, 60)  # scripts cached, slot map loaded
    await api.get_many(keys)
    with counting(topology.group) as counts:
        assert await api.set_many({k: k for k in keys}, 60) == []
    # one script call per slot: 2 round trips' worth of commands for 40 keys, not 40 SETs
    assert _script_calls(counts) == 2, counts
    assert counts.get("set", 0) == 40  # run inside the two scripts
    for key in (keys[0], keys[-1]):
        assert 50 < await api.ttl(key) <= 60  # every key still got its TTL
    with counting(topology.group) as counts:
        assert await api.set_many({k: k for k in keys}, None) == []
    assert counts == {"mset": 2}, counts
    with counting(topology.group) as counts:
        assert await api.get_many(keys) == {k: k for k in keys}
    assert counts == {"mget": 2}, counts
    with counting(topology.group) as counts:
        await api.delete_many(keys)
    assert counts == {"del": 2}, counts
    assert await api.get_many(keys) == {}


def _pool_kwargs(client: Any) -> list[dict[str, Any]]:
    """connection_kwargs of every pool behind a client (each node's on Cluster)."""
    if hasattr(client, "nodes_manager"):  # sync or async RedisCluster
        nodes = client.get_nodes()
        if hasattr(nodes[0], "redis_connection"):
            return [n.redis_connection.connection_pool.connection_kwargs for n in nodes if n.redis_connection]
        return [n.connection_kwargs for n in nodes]
    return [client.connection_pool.connection_kwargs]


@all_topologies
async def test_connection_pool_kwargs_and_socket_timeouts_reach_the_pool(settings: Any, topology: Any) -> None:
    options = {
        "SOCKET_TIMEOUT": 3.5,
        "SOCKET_CONNECT_TIMEOUT": 1.25,
        "CONNECTION_POOL_KWARGS": {"health_check_interval": 7, "client_name": "drp-pool-kwargs"},
    }
    settings.CACHES = {**settings.CACHES, "default": topology.cache_config(**options)}
    cache = caches["default"]
    cache.set("k", "v")  # the client is built and has connected
    assert await cache.aget("k") == "v"
    sync_kwargs, async_kwargs = _pool_kwargs(cache.get_client()), _pool_kwargs(await cache._aclient())
    for kwargs in [*sync_kwargs, *async_kwargs]:
        assert kwargs["client_name"] == "drp-pool-kwargs"
        assert kwargs["socket_timeout"] == 3.5
        assert kwargs["socket_connect_timeout"] == 1.25
    # redis-py's sync RedisCluster keeps only the connection kwargs it knows (cleanup_kwargs),
    # and health_check_interval is not one of them; every other client passes it on.
    for kwargs in async_kwargs if topology.kind == "cluster" else [*sync_kwargs, *async_kwargs]:
        assert kwargs["health_check_interval"] == 7
    # ... and the server sees the name on the connections the cache opened.
    names = set()
    for client in topology.group.data_clients():
        with client:
            names |= {c.get("name") for c in client.client_list()}
    assert "drp-pool-kwargs" in names


def test_socket_timeouts_given_in_connection_pool_kwargs_count_too(settings: Any, topology: Any) -> None:
    kwargs = {"socket_timeout": 4.5, "socket_connect_timeout": 0.75}
    settings.CACHES = {**settings.CACHES, "default": topology.cache_config(CONNECTION_POOL_KWARGS=kwargs)}
    cache = caches["default"]
    cache.set("k", "v")
    pool = cache.get_client().connection_pool.connection_kwargs
    assert pool["socket_timeout"] == 4.5 and pool["socket_connect_timeout"] == 0.75
