"""The floor every pattern is measured against: one GET through get_redis() vs bare redis-py."""

from __future__ import annotations

import asyncio

import redis.asyncio

from django_redis_patterns import aget_redis, get_redis

from .harness import Context


def run(ctx: Context) -> None:
    bare = ctx.redis()
    bare.set("bench:k", "v")
    ours = get_redis()
    ctx.compare(
        "GET round trip (client reused)",
        {"ours: get_redis().get": lambda: ours.get("bench:k"), "bare redis-py": lambda: bare.get("bench:k")},
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
