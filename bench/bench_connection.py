"""The floor every pattern is measured against: one GET through get_redis() vs bare redis-py
(standalone, asyncio, and Redis Cluster, sync and asyncio)."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio
import redis.asyncio.cluster
import redis.cluster

from django_redis_patterns import aget_redis, get_redis
from django_redis_patterns.client import compat, connections

from .harness import CEILING, Context


def run(ctx: Context) -> None:
    bare = ctx.redis()
    bare.set("bench:k", "v")
    ours = get_redis()
    no_poll = connections.client_for_spec(connections.parse(ctx.url, {"SPIN_WAIT_US": 0}))
    raw = ctx.raw()
    # The ceiling shows how much of a GET is Python work at all; the row without polling
    # shows what waiting for the reply awake (client.spin) adds: untuned, most of the gain.
    ctx.compare(
        "GET round trip (client reused)",
        {
            "ours: get_redis().get": lambda: ours.get("bench:k"),
            "bare redis-py": lambda: bare.get("bench:k"),
            "ours, SPIN_WAIT_US=0": lambda: no_poll.get("bench:k"),
            CEILING: lambda: raw.call("GET", "bench:k"),
        },
    )
    ctx.compare(
        "GET round trip (client looked up per call)",
        {"ours: get_redis().get": lambda: get_redis().get("bench:k"), "bare redis-py": lambda: bare.get("bench:k")},
    )

    bare_async: dict[int, redis.asyncio.Redis] = {}

    async def ours_async() -> None:
        await (await aget_redis()).get("bench:k")

    async def bare_async_get() -> None:
        loop = id(asyncio.get_running_loop())
        if loop not in bare_async:
            bare_async[loop] = redis.asyncio.Redis.from_url(ctx.url)
        await bare_async[loop].get("bench:k")

    ctx.compare(
        "async GET round trip",
        {"ours: aget_redis().get": ours_async, "bare redis.asyncio": bare_async_get},
        is_async=True,
    )

    # -- Redis Cluster: LeanRedisCluster vs redis-py's RedisCluster, same 3-primary cluster ----
    cluster = ctx.cluster()
    ours_cluster = connections.client_for_config(cluster.url, {})
    bare_cluster = redis.cluster.RedisCluster(
        startup_nodes=[redis.cluster.ClusterNode(s.host, s.port) for s in cluster.primaries]
    )
    keys = [f"bench:cluster:{i}" for i in range(16)]  # spread over the primaries
    for k in keys:
        bare_cluster.set(k, "v")
    turn = iter(range(1 << 62))
    # The class the connection layer really built: on a redis-py whose internals the lean
    # Cluster clients do not mirror (client.compat), ours is redis-py's own RedisCluster.
    ours_label = f"ours: {type(ours_cluster).__name__}"
    async_lean = compat.lean_status("async-cluster")[0]
    ours_async_label = "ours: LeanAsyncRedisCluster" if async_lean else "ours: RedisCluster (lean off)"
    cluster_no_poll = connections.client_for_config(cluster.url, {"SPIN_WAIT_US": 0})
    ctx.compare(
        "Cluster GET (16 keys over 3 primaries)",
        {
            ours_label: lambda: ours_cluster.get(keys[next(turn) % 16]),
            "redis-py RedisCluster": lambda: bare_cluster.get(keys[next(turn) % 16]),
            f"{ours_label}, SPIN_WAIT_US=0": lambda: cluster_no_poll.get(keys[next(turn) % 16]),
        },
    )
    ctx.compare(
        "Cluster SET (16 keys over 3 primaries)",
        {
            ours_label: lambda: ours_cluster.set(keys[next(turn) % 16], "v"),
            "redis-py RedisCluster": lambda: bare_cluster.set(keys[next(turn) % 16], "v"),
        },
    )

    # -- asyncio Cluster: LeanAsyncRedisCluster vs redis.asyncio's RedisCluster -------------
    spec = connections.parse(cluster.url, {})
    per_loop: dict[tuple[int, str], Any] = {}

    async def client_on_loop(kind: str) -> Any:
        key = (id(asyncio.get_running_loop()), kind)
        if key not in per_loop:
            if kind == "ours":
                per_loop[key] = connections.async_client_for_spec(spec)
            else:
                per_loop[key] = redis.asyncio.cluster.RedisCluster(
                    startup_nodes=[redis.asyncio.cluster.ClusterNode(s.host, s.port) for s in cluster.primaries]
                )
            await per_loop[key].initialize()
        return per_loop[key]

    async def ours_async_cluster() -> None:
        await (await client_on_loop("ours")).get(keys[next(turn) % 16])

    async def bare_async_cluster() -> None:
        await (await client_on_loop("bare")).get(keys[next(turn) % 16])

    ctx.compare(
        "async Cluster GET (16 keys over 3 primaries)",
        {ours_async_label: ours_async_cluster, "redis.asyncio RedisCluster": bare_async_cluster},
        is_async=True,
    )
