"""Replica reads: a LOCATION list reads from replicas; Sentinel and Cluster on request."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from tests.cache.conftest import commandstats, point_default_at, reset_stats, settle_cluster


def _reads(servers: list[Any]) -> int:
    clients = [s.client() for s in servers]
    try:
        stats = commandstats(clients)
    finally:
        for c in clients:
            c.close()
    return stats.get("get", 0) + stats.get("mget", 0) + stats.get("exists", 0)


def _reset(servers: list[Any]) -> None:
    for server in servers:
        with contextlib.closing(server.client()) as client:
            reset_stats([client])


def _replicated(primary: Any) -> None:
    with contextlib.closing(primary.client()) as client:
        client.wait(1, 2000)


async def test_a_location_list_reads_from_the_replica(redis_factory: Any, settings: Any) -> None:
    group = redis_factory("standalone", replicas=1)
    cache = point_default_at(settings, group.location)
    cache.set("k", "v")
    cache.set_many({"a": 1, "b": 2})
    _replicated(group.primary)
    _reset(group.servers)
    assert cache.get("k") == "v"
    assert cache.get_many(["a", "b"]) == {"a": 1, "b": 2}
    assert cache.has_key("a") is True
    assert await cache.aget("k") == "v"
    assert await cache.aget_many(["a"]) == {"a": 1}
    assert _reads(group.replicas) == 5
    assert _reads([group.primary]) == 0
    cache.set("k", "w")  # writes still go to the primary
    _replicated(group.primary)
    assert cache.get("k") == "w"


def test_sentinel_reads_from_replicas_only_when_asked(redis_factory: Any, settings: Any) -> None:
    group = redis_factory("sentinel")
    cache = point_default_at(settings, group.url)
    cache.set("k", "v")
    primary = group.current_primary()
    _replicated(primary)
    replicas = [s for s in group.replicas if s is not primary]
    _reset([primary, *replicas])
    assert cache.get("k") == "v"
    assert _reads([primary]) == 1 and _reads(replicas) == 0
    cache = point_default_at(settings, group.url, OPTIONS={"READ_FROM_REPLICAS": True})
    _reset([primary, *replicas])
    deadline = time.monotonic() + 10
    while cache.get("k") != "v" and time.monotonic() < deadline:  # the replica client's first discovery
        time.sleep(0.05)
    assert cache.get("k") == "v"
    assert _reads(replicas) >= 1
    assert _reads([primary]) == 0


def test_cluster_reads_from_replicas_when_asked(cluster: Any, settings: Any) -> None:
    settle_cluster(cluster)
    cache = point_default_at(settings, cluster.url, OPTIONS={"READ_FROM_REPLICAS": True})
    keys = [f"k{i}" for i in range(30)]
    cache.set_many({k: k for k in keys}, 60)
    for p in cluster.primaries:
        _replicated(p)
    _reset(cluster.servers)
    assert cache.get_many(keys) == {k: k for k in keys}
    for k in keys[:10]:
        assert cache.get(k) == k
    assert _reads(cluster.cluster_replicas) > 0
