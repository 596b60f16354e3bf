"""Projects that test on fakeredis (django_redis_patterns.testing) get the whole cache API."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.core.cache import caches

from django_redis_patterns.testing import use_fakeredis


@use_fakeredis()
def test_cache_api_on_fakeredis() -> None:
    cache = caches["default"]
    cache.set("k", {"v": 1}, 30)
    assert cache.get("k") == {"v": 1}
    assert 25 < cache.ttl("k") <= 30
    assert cache.add("k", 2) is False
    cache.set("n", 1)
    assert cache.incr("n", 4) == 5
    with pytest.raises(ValueError):
        cache.incr("missing")
    cache.set_many({"a": 1, "b": "two"}, 30)
    assert cache.get_many(["a", "b", "c"]) == {"a": 1, "b": "two"}
    for mode in ("xfetch", "lock", None):
        assert cache.get_or_set(f"g-{mode}", lambda: [1, 2], 30, stampede=mode) == [1, 2]
        assert cache.get(f"g-{mode}") == [1, 2]
    assert sorted(cache.keys("*")) == sorted(["k", "n", "a", "b", "g-xfetch", "g-lock", "g-None"])
    assert cache.delete_pattern("g-*") == 3
    assert cache.incr_version("k") == 2
    cache.clear()
    assert cache.get_many(["a", "b", "n"]) == {}


@use_fakeredis()
def test_async_api_on_fakeredis() -> None:
    cache = caches["default"]

    async def main() -> list[Any]:
        await cache.aset_many({f"k{i}": i for i in range(10)}, 30)
        assert await cache.aget_or_set("x", lambda: "y", 30, stampede="lock") == "y"
        return await asyncio.gather(*(cache.aget(f"k{i}") for i in range(10)))

    assert asyncio.run(main()) == list(range(10))


def test_fake_redis_fixture(fake_redis: Any) -> None:
    caches["default"].set("k", 7)
    assert fake_redis.get(":1:k") == b"7"
