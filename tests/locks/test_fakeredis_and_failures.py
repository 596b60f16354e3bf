"""Locks on fakeredis (projects' own tests) and with Redis unreachable."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from django_redis_patterns.locks import LockNotAcquired, LockUnavailable, alock, lock
from django_redis_patterns.testing import use_fakeredis
from django_redis_patterns.testing.servers import free_port


@use_fakeredis()
def test_lock_works_on_fakeredis() -> None:
    with lock("fake", ttl=5) as held:
        assert held.fencing_token == 1
        with pytest.raises(LockNotAcquired):
            with lock("fake", blocking=False):
                pass
    got: list[int] = []
    first = lock("fake", ttl=5)
    assert first.acquire()
    thread = threading.Thread(target=lambda: got.append(lock("fake", timeout=10).acquire()))
    thread.start()
    first.release()
    thread.join()
    assert got == [True]


@use_fakeredis()
def test_alock_works_on_fakeredis() -> None:
    async def main() -> int:
        async with alock("fake-async", ttl=5) as held:
            return held.fencing_token

    assert asyncio.run(main()) == 1


def test_unreachable_redis_is_a_clear_error(settings: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "down": {"BACKEND": "django_redis_patterns.cache.RedisCache", "LOCATION": f"redis://127.0.0.1:{free_port()}/0"},
    }
    with pytest.raises(LockUnavailable) as info:
        with lock("x", using="down"):
            pass
    assert info.value.alias == "down" and "acquire" in str(info.value)


async def test_unreachable_redis_is_a_clear_error_async(settings: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "down": {"BACKEND": "django_redis_patterns.cache.RedisCache", "LOCATION": f"redis://127.0.0.1:{free_port()}/0"},
    }
    with pytest.raises(LockUnavailable):
        await alock("x", using="down").acquire()
