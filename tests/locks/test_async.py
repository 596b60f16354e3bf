"""alock/AsyncLock: the same semantics on redis.asyncio, holds per task."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from django_redis_patterns import get_redis
from django_redis_patterns.locks import AsyncLock, LockError, LockLost, LockNotAcquired, alock, lock
from django_redis_patterns.locks.core import LockKeys
from tests.locks.conftest import WOKEN_WITHIN, slow_polling
from tests.topologies import all_topologies


@all_topologies
async def test_alock_acquire_release_fencing(topology: Any) -> None:
    tokens = []
    for _ in range(2):
        async with alock("async-report", ttl=5) as held:
            assert held.held
            tokens.append(held.fencing_token)
            with pytest.raises(LockNotAcquired):
                async with alock("async-report", blocking=False):
                    pass
    assert tokens[1] > tokens[0]
    assert await alock("async-report").acquire(blocking=False) is True


@all_topologies
async def test_two_tasks_sharing_one_lock_object_cannot_release_each_other(topology: Any) -> None:
    shared = AsyncLock("shared-object", ttl=10)
    a_expired = asyncio.Event()
    b_holds = asyncio.Event()
    a_done = asyncio.Event()

    async def task_a() -> str:
        assert await shared.acquire()
        get_redis().delete(LockKeys.for_name("shared-object").lock)  # A's lock expires
        a_expired.set()
        await b_holds.wait()
        try:
            await shared.release()
        except LockLost:
            return "A lost"
        finally:
            a_done.set()
        return "A released B's lock"

    async def task_b() -> int:
        await a_expired.wait()
        assert await shared.acquire(timeout=5)
        b_holds.set()
        await a_done.wait()
        exists = int(bool(get_redis().exists(LockKeys.for_name("shared-object").lock)))
        await shared.release()  # B's own hold releases fine
        return exists

    a, b_key_exists = await asyncio.gather(task_a(), task_b())
    assert a == "A lost"
    assert b_key_exists == 1


async def test_release_from_a_task_that_holds_nothing_fails(topology: Any) -> None:
    shared = alock("nobody", ttl=5)
    assert await shared.acquire()

    async def other() -> None:
        await shared.release()

    with pytest.raises(LockError):
        await asyncio.create_task(other())
    assert shared.held
    await shared.release()


@all_topologies
async def test_async_waiter_woken_and_renewal(topology: Any, settings: Any) -> None:
    slow_polling(settings, topology)  # a 20 s polling slice: only the release's wake-up is quick
    first = alock("async-handover", ttl=60)
    assert await first.acquire()
    waiter = asyncio.create_task(_take("async-handover"))
    await _waiter_blocked("async-handover")
    token = first.fencing_token
    released_at = time.monotonic()
    await first.release()
    fence, got_at = await asyncio.wait_for(waiter, 45)
    assert fence > (token or 0)
    assert got_at - released_at < WOKEN_WITHIN, f"woken {got_at - released_at:.2f}s after the release"

    async with alock("async-renew", ttl=1.0, renew=True) as held:
        await asyncio.sleep(3.0)  # three TTLs
        assert held.held and held.renewals >= 2
        assert lock("async-renew").acquire(blocking=False) is False


async def _waiter_blocked(name: str) -> None:
    """Until the waiter task's failed attempt set the "waiting" marker (then a little more)."""
    client = get_redis()
    end = time.monotonic() + 30
    while not client.exists(LockKeys.for_name(name).waiting):
        assert time.monotonic() < end, "the waiter never tried"
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)


async def _take(name: str) -> tuple[int, float]:
    async with alock(name, ttl=5, timeout=40) as held:
        return held.fencing_token, time.monotonic()


async def test_async_lost_raises_on_exit(topology: Any) -> None:
    with pytest.raises(LockLost):
        async with alock("async-lost", ttl=0.2):
            await asyncio.sleep(0.3)  # the hold expires


async def test_async_retried_release_whose_first_reply_was_lost_is_clean(topology: Any) -> None:
    from django_redis_patterns.locks import core

    held = alock("async-retried", ttl=5)
    assert await held.acquire()
    handle = held.handle()
    keys = LockKeys.for_name("async-retried")
    args = core.release_args(handle.token, fencing_token=handle.fencing_token)
    assert int(core.RELEASE(get_redis(), keys.release, args)) == 1  # the run whose reply was lost
    await held.release()  # the retry: no LockLost


async def test_async_decorator(topology: Any) -> None:
    @lock("async-decorated", ttl=5)
    async def job() -> bool:
        return await alock("async-decorated").acquire(blocking=False)

    assert await job() is False
