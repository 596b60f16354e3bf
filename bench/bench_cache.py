"""Cache backend: ours vs django-redis vs Django's built-in RedisCache vs bare redis-py + pickle.

All four talk to the same bench server; the three backends use the same key layout
(``:1:<key>``) and pickle protocol, so they read the same values.
"""

from __future__ import annotations

import asyncio
import pickle
from typing import Any

import redis.asyncio
from django.core.cache import caches

from .harness import CEILING

VALUE = {"id": 42, "name": "player-42", "score": 1234.5, "tags": ["a", "b", "c"], "bio": "x" * 200}
MANY = 100
GATHER = 200


def run(ctx: Any) -> None:
    ours, dr, builtin = caches["default"], caches["django_redis"], caches["builtin"]
    # Our connection layer always sets socket timeouts (2 s, connect 1 s) so a stalled
    # server can never hang a request; a socket with a timeout costs a poll() per read and
    # write. django-redis's default has none, so it is also measured with the same timeouts.
    from django_redis.cache import RedisCache as DjangoRedisCache

    dr_timeouts = DjangoRedisCache(ctx.url, {"OPTIONS": {"SOCKET_TIMEOUT": 2, "SOCKET_CONNECT_TIMEOUT": 1}})
    bare = ctx.redis()
    raw = ctx.raw()
    protocol = pickle.HIGHEST_PROTOCOL

    def bare_key(key: str) -> str:
        return f":1:{key}"

    ours.set("bench:get", VALUE, 3600)
    ctx.compare(
        "get (hit, ~300-byte dict)",
        {
            "ours": lambda: ours.get("bench:get"),
            "django-redis 7": lambda: dr.get("bench:get"),
            "django-redis 7, same timeouts": lambda: dr_timeouts.get("bench:get"),
            "Django RedisCache": lambda: builtin.get("bench:get"),
            "redis-py + pickle": lambda: pickle.loads(bare.get(":1:bench:get")),  # type: ignore[arg-type]
            CEILING: lambda: pickle.loads(raw.call("GET", ":1:bench:get")),
        },
        number=800,
        repeat=15,
    )

    ctx.compare(
        "set (~300-byte dict, timeout)",
        {
            "ours": lambda: ours.set("bench:set", VALUE, 300),
            "django-redis 7": lambda: dr.set("bench:set", VALUE, 300),
            "django-redis 7, same timeouts": lambda: dr_timeouts.set("bench:set", VALUE, 300),
            "Django RedisCache": lambda: builtin.set("bench:set", VALUE, 300),
            "redis-py + pickle": lambda: bare.set(":1:bench:set", pickle.dumps(VALUE, protocol), ex=300),
            CEILING: lambda: raw.call("SET", ":1:bench:set", pickle.dumps(VALUE, protocol), "PX", 300_000),
        },
        number=800,
        repeat=15,
    )

    keys = [f"bench:many:{i}" for i in range(MANY)]
    data = {k: {**VALUE, "id": i} for i, k in enumerate(keys)}
    ours.set_many(data, 3600)
    bare_keys = [bare_key(k) for k in keys]

    def bare_get_many() -> dict[str, Any]:
        return {k: pickle.loads(v) for k, v in zip(keys, bare.mget(bare_keys), strict=True) if v is not None}

    ctx.compare(
        f"get_many({MANY})",
        {
            "ours": lambda: ours.get_many(keys),
            "django-redis 7": lambda: dr.get_many(keys),
            "Django RedisCache": lambda: builtin.get_many(keys),
            "redis-py + pickle (MGET)": bare_get_many,
        },
        number=300,
        ops=MANY,
    )

    def bare_set_many() -> None:
        pipe = bare.pipeline(transaction=False)
        for k, v in data.items():
            pipe.set(bare_key(k), pickle.dumps(v, protocol), ex=300)
        pipe.execute()

    ctx.compare(
        f"set_many({MANY}, timeout)",
        {
            "ours": lambda: ours.set_many(data, 300),
            "django-redis 7": lambda: dr.set_many(data, 300),
            "Django RedisCache": lambda: builtin.set_many(data, 300),
            "redis-py + pickle (pipeline)": bare_set_many,
        },
        number=200,
        ops=MANY,
    )

    ours.set("bench:counter", 0, None)
    ctx.compare(
        "incr",
        {
            "ours": lambda: ours.incr("bench:counter"),
            "django-redis 7": lambda: dr.incr("bench:counter"),
            "django-redis 7, same timeouts": lambda: dr_timeouts.incr("bench:counter"),
            "Django RedisCache": lambda: builtin.incr("bench:counter"),
            "redis-py INCRBY (no existence check)": lambda: bare.incrby(":1:bench:counter", 1),
        },
        number=800,
        repeat=15,
    )

    gather_keys = [f"bench:gather:{i}" for i in range(GATHER)]
    ours.set_many({k: VALUE for k in gather_keys}, 3600)
    url = ctx.url
    bare_async: dict[int, Any] = {}

    async def bare_gather() -> list[Any]:
        loop = id(asyncio.get_running_loop())
        if loop not in bare_async:
            bare_async[loop] = redis.asyncio.Redis.from_url(url, max_connections=1000)
        client = bare_async[loop]

        async def one(key: str) -> Any:
            raw = await client.get(bare_key(key))
            return pickle.loads(raw)

        return await asyncio.gather(*(one(k) for k in gather_keys))

    def gather(cache: Any) -> Any:
        return lambda: asyncio.gather(*(cache.aget(k) for k in gather_keys))

    ctx.compare(
        f"{GATHER} concurrent aget (asyncio.gather)",
        {
            "ours (redis.asyncio)": gather(ours),
            "django-redis 7 (sync_to_async)": gather(dr),
            "Django RedisCache (sync_to_async)": gather(builtin),
            "redis.asyncio + pickle": bare_gather,
        },
        number=10,
        repeat=5,
        ops=GATHER,
        is_async=True,
    )
