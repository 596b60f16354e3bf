"""The near cache on every topology: invalidation per node, Sentinel failover, Cluster resharding."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from redis.crc import key_slot

from django_redis_patterns.cache import nearbackend, nearcache
from django_redis_patterns.cache.tracking import _parse_slots
from django_redis_patterns.client import connections
from tests.cache.conftest import counting, point_default_at, settle_cluster
from tests.cache.test_near_cache import HOT, eventually, reads, warm, wrote
from tests.topologies import all_topologies

# One hash tag, so the RENAME and EVAL cases stay in one slot on Cluster.
KEY = "hot:{n}"
MADE = ":1:hot:{n}"


@pytest.fixture(autouse=True)
def _fresh_stores() -> Iterator[None]:
    nearcache.reset()
    yield
    nearcache.reset()


def near(location: Any, settings: Any, **near_options: Any) -> Any:
    cache = point_default_at(settings, location, OPTIONS={"NEAR_CACHE": {**HOT, **near_options}})
    assert cache.near_cache().wait_live(10), "tracking was not established"
    return cache


def another_client(location: Any) -> Any:
    """A client with pools of its own (a plain redis-py one): to the servers, another process."""
    return connections.client_for_spec(connections.parse(location, {"LEAN_CLIENT": False}))


@all_topologies
@pytest.mark.parametrize(
    ("name", "change", "expected"),
    [
        ("SET", lambda r: r.set(MADE, b"5"), 5),
        ("DEL", lambda r: r.delete(MADE), None),
        ("INCR", lambda r: r.incr(MADE), 2),
        ("PEXPIRE", lambda r: r.pexpire(MADE, 1), None),
        ("FLUSHALL", lambda r: r.flushall(), None),
        ("EVAL", lambda r: r.eval("return redis.call('SET', KEYS[1], '42')", 1, MADE), 42),
        ("RENAME", lambda r: (r.set(MADE + "x", b"9"), r.rename(MADE + "x", MADE)), 9),
    ],
)
def test_another_clients_change_invalidates(
    topology: Any, settings: Any, name: str, change: Callable[[Any], Any], expected: Any
) -> None:
    cache = near(topology.location, settings)
    other = another_client(topology.location)
    cache.set(KEY, 1)
    warm(cache, KEY)
    change(other)
    eventually(lambda: cache.get(KEY) == expected, f"{name} reaching the near cache")


@all_topologies
def test_hits_stay_local_and_own_writes_are_read_at_once(topology: Any, settings: Any) -> None:
    cache = near(topology.location, settings)
    cache.set_many({f"hot:{i}": i for i in range(10)})
    for i in range(10):
        warm(cache, f"hot:{i}")
    with counting(topology.group) as counts:
        got = [cache.get(f"hot:{i}") for i in range(10)]
        many = cache.get_many([f"hot:{i}" for i in range(10)])

        async def both() -> Any:
            return await cache.aget("hot:3"), await cache.aget_many(["hot:4", "hot:5"])

        async_got = asyncio.run(both())
    assert got == list(range(10)) and many == {f"hot:{i}": i for i in range(10)}
    assert async_got == (3, {"hot:4": 4, "hot:5": 5})
    assert reads(counts) == 0
    cache.set("hot:3", "new")
    cache.delete("hot:4")
    cache.incr("hot:5", 10)
    assert cache.get_many(["hot:3", "hot:4", "hot:5"]) == {"hot:3": "new", "hot:5": 15}


@all_topologies
def test_a_read_overtaken_by_an_invalidation_is_not_kept(
    topology: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = near(topology.location, settings)
    store = cache.near_cache()
    other = another_client(topology.location)
    cache.set(KEY, "old")
    warm(cache, KEY)
    store.flush()
    real = nearbackend._read_with_ttl

    def read_then_someone_writes(client: Any, made: str) -> Any:
        reply = real(client, made)
        other.set(MADE, b"7")
        eventually(lambda: MADE not in store._pending, "the invalidation")
        return reply

    monkeypatch.setattr(nearbackend, "_read_with_ttl", read_then_someone_writes)
    assert cache.get(KEY) == "old"
    monkeypatch.setattr(nearbackend, "_read_with_ttl", real)
    assert len(store) == 0 and cache.get(KEY) == 7


@pytest.mark.slow
def test_sentinel_failover_flushes_and_tracks_the_new_primary(redis_factory: Any, settings: Any) -> None:
    group = redis_factory("sentinel")
    cache = near(group.url, settings)
    store = cache.near_cache()
    cache.set(KEY, "before")
    warm(cache, KEY)
    flushes = store.stats()["flushes"]
    old = group.current_primary()
    with group.sentinels[0].client() as sentinel:
        sentinel.execute_command("SENTINEL FAILOVER", group.service)
    eventually(lambda: group.current_primary() is not old, "the failover", timeout=20)
    eventually(lambda: store.stats()["flushes"] > flushes, "the local copies being dropped", timeout=20)
    eventually(lambda: store.live, "tracking on the new primary", timeout=20)
    new = group.current_primary()
    with new.client() as primary:
        # our invalidation connection, on the new primary (the Sentinels' own are on another channel)
        assert primary.pubsub_numsub("__redis__:invalidate") == [(b"__redis__:invalidate", 1)]
        # Written here rather than relied on from before: what an asynchronous replica had
        # received when it was promoted is Redis's business, not the near cache's.
        primary.set(MADE, pickle.dumps("after"))
        warm(cache, KEY)
        primary.set(MADE, b"11")
    eventually(lambda: cache.get(KEY) == 11, "a write on the new primary reaching the near cache")


def _migrate_slot(group: Any, slot: int) -> tuple[str, str]:
    """Move ``slot`` (and its keys) to another primary; returns (from, to) addresses."""
    clients = {p.address: p.client(decode_responses=True) for p in group.primaries}
    try:
        ids = {address: c.execute_command("CLUSTER MYID") for address, c in clients.items()}
        slot_map = _parse_slots(next(iter(clients.values())).execute_command("CLUSTER SLOTS"))
        source = next(address for lo, hi, address in slot_map if lo <= slot <= hi)
        target = next(a for a in clients if a != source)
        clients[target].execute_command("CLUSTER SETSLOT", slot, "IMPORTING", ids[source])
        clients[source].execute_command("CLUSTER SETSLOT", slot, "MIGRATING", ids[target])
        keys = clients[source].execute_command("CLUSTER GETKEYSINSLOT", slot, 1000)
        host, port = target.rsplit(":", 1)
        if keys:
            clients[source].execute_command("MIGRATE", host, port, "", 0, 5000, "KEYS", *keys)
        for c in clients.values():
            c.execute_command("CLUSTER SETSLOT", slot, "NODE", ids[target])
        return source, target
    finally:
        for c in clients.values():
            c.close()


@pytest.mark.slow
def test_cluster_resharding_flushes_and_invalidation_follows_the_key(redis_factory: Any, settings: Any) -> None:
    group = redis_factory("cluster")
    settle_cluster(group)
    cache = near(group.url, settings)
    store = cache.near_cache()
    other = another_client(group.url)
    cache.set(KEY, "before")
    warm(cache, KEY)
    flushes = store.stats()["flushes"]
    _migrate_slot(group, key_slot(MADE.encode()))
    eventually(lambda: store.stats()["flushes"] > flushes, "the slot map change dropping local copies", timeout=10)
    eventually(lambda: store.live, "tracking after the resharding")
    assert cache.get(KEY) == "before"  # served from its new node
    warm(cache, KEY)
    other.set(MADE, b"12")  # redis-py follows MOVED to the new owner
    eventually(lambda: cache.get(KEY) == 12, "a write on the key's new node reaching the near cache")


def test_the_watch_reads_a_cluster_map() -> None:
    # The parser both redis-py reply shapes go through (parsed dict, raw list).
    raw = [[0, 99, [b"10.0.0.1", 7000, b"id1"]], [100, 16383, [b"10.0.0.2", 7001, b"id2"]]]
    parsed = {(0, 99): {"primary": ("10.0.0.1", 7000)}, (100, 16383): {"primary": ("10.0.0.2", 7001)}}
    expected = ((0, 99, "10.0.0.1:7000"), (100, 16383, "10.0.0.2:7001"))
    assert _parse_slots(raw) == _parse_slots(parsed) == expected


@pytest.mark.slow
def test_cluster_failover_tracks_the_promoted_replica(redis_factory: Any, settings: Any) -> None:
    group = redis_factory("cluster")
    settle_cluster(group)
    options = {"NEAR_CACHE": HOT, "IGNORE_EXCEPTIONS": True, "CIRCUIT_BREAKER_COOLDOWN": 0.2}
    cache = point_default_at(settings, group.url, OPTIONS=options)
    store = cache.near_cache()
    assert store.wait_live(10)
    cache.set(KEY, "before")
    warm(cache, KEY)
    slot_map = _parse_slots(group.data_clients()[0].execute_command("CLUSTER SLOTS"))
    owner = next(a for lo, hi, a in slot_map if lo <= key_slot(MADE.encode()) <= hi)
    dead = next(p for p in group.primaries if p.address == owner)
    dead.kill()
    eventually(lambda: not store.live, "the lost node being noticed")
    assert len(store) == 0
    # The replica takes over after the node timeout; then the watch tracks it.
    eventually(lambda: store.live, "tracking on the promoted replica", timeout=30)
    assert len(store.trackers) == 1 + len(group.primaries)  # the watch + one per primary
    eventually(lambda: cache.get(KEY) == "before", "the key served by the promoted replica", timeout=10)
    warm(cache, KEY)
    other = another_client(group.url)
    eventually(lambda: wrote(other, MADE, b"13"), "a write on the new primary", timeout=10)
    eventually(lambda: cache.get(KEY) == 13, "the promoted replica's invalidation reaching the near cache")
