"""Near cache (``OPTIONS["NEAR_CACHE"]``): hot reads from process memory against a round trip.

Contenders: ours with the near cache; django-redis 7; ours without the near cache. All read
the same values (a ~300-byte dict, pickled) from the bench server. The miss path compares
the near cache on and off for a key Redis does not have (every call goes to Redis). The
memory row is what one entry costs the process, measured with tracemalloc.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

from django.core.cache import caches

from .bench_cache import VALUE

HOT_KEYS = 1000
MANY = 100
NEAR = "ours, near cache"
OFF = "ours, no near cache"
DJANGO_REDIS = "django-redis 7"


def run(ctx: Any) -> None:
    near, off, dr = caches["near"], caches["default"], caches["django_redis"]
    store = near.near_cache()
    if not store.wait_live(10):
        raise RuntimeError("near cache: tracking was not established on the bench server")

    near.set("bench:hot:one", VALUE, 3600)
    keys = [f"bench:hot:{i}" for i in range(HOT_KEYS)]
    near.set_many({k: {**VALUE, "id": i} for i, k in enumerate(keys)}, 3600)
    for key in ["bench:hot:one", *keys]:  # a read right after our own write may not be kept
        while near.get(key) is None or f":1:{key}" not in store._data:
            pass

    ctx.compare(
        "near cache: get (hit, one hot key)",
        {
            NEAR: lambda: near.get("bench:hot:one"),
            DJANGO_REDIS: lambda: dr.get("bench:hot:one"),
            OFF: lambda: off.get("bench:hot:one"),
        },
        number=800,
        repeat=15,
    )

    def each(cache: Any) -> Any:
        get = cache.get
        return lambda: [get(k) for k in keys]

    ctx.compare(
        f"near cache: get of {HOT_KEYS:,} hot keys",
        {NEAR: each(near), DJANGO_REDIS: each(dr), OFF: each(off)},
        number=3,
        repeat=9,
        ops=HOT_KEYS,
    )

    many = keys[:MANY]
    ctx.compare(
        f"near cache: get_many({MANY}) of hot keys",
        {NEAR: lambda: near.get_many(many), DJANGO_REDIS: lambda: dr.get_many(many), OFF: lambda: off.get_many(many)},
        number=100,
        repeat=9,
        ops=MANY,
    )

    ctx.compare(
        "near cache: get miss (key not in Redis)",
        {NEAR: lambda: near.get("bench:hot:absent"), OFF: lambda: off.get("bench:hot:absent")},
        number=800,
        repeat=15,
    )

    size = len(near._codec.encode(VALUE))
    ctx.record(
        "near cache: memory per entry", NEAR, _bytes_per_entry(near), f"bytes ({size}-byte pickled value, 10,000 keys)"
    )


def _bytes_per_entry(cache: Any, entries: int = 10_000) -> float:
    """Process memory one kept entry costs: its key, its serialized value and the store's structures."""
    store = cache.near_cache()
    store.flush()
    keys = [f":1:bench:mem:{i:05d}" for i in range(entries)]
    encoded = cache._codec.encode(VALUE)
    tokens = [store.begin(k) for k in keys]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for key, token in zip(keys, tokens, strict=True):
        # A new bytes object per entry, as each miss reads one from Redis; the key string is
        # counted too (the caller's made key is what the store keeps).
        store.finish("".join(key), token, bytes(bytearray(encoded)), 3_600_000)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    if len(store) != entries:
        raise RuntimeError(f"near cache kept {len(store)} of {entries} entries")
    store.flush()
    return (after - before) / entries
