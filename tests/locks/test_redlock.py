"""Redlock over three independent redis-servers, killing them for real."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from django_redis_patterns.locks import LockNotAcquired, LockUnavailable, Redlock
from django_redis_patterns.locks.core import LockKeys

ALIASES = ["r0", "r1", "r2"]


@pytest.fixture
def three(redis_factory: Any, settings: Any) -> list[Any]:
    groups = [redis_factory("standalone") for _ in ALIASES]
    settings.CACHES = {
        **settings.CACHES,
        **{
            alias: {"BACKEND": "django_redis_patterns.cache.RedisCache", "LOCATION": group.url}
            for alias, group in zip(ALIASES, groups, strict=True)
        },
    }
    return groups


def test_redlock_takes_a_quorum_and_releases_everywhere(three: list[Any]) -> None:
    key = LockKeys.for_name("fleet").lock
    with Redlock("fleet", using=ALIASES, ttl=10) as held:
        assert held.held and 0 < held.validity < 10
        assert all(g.servers[0].client().exists(key) for g in three)
        with pytest.raises(LockNotAcquired):
            with Redlock("fleet", using=ALIASES, ttl=10, blocking=False):
                pass
        held.extend(20)
        assert all(g.servers[0].client().pttl(key) > 10000 for g in three)
    assert not any(g.servers[0].client().exists(key) for g in three)


def test_one_node_killed_still_acquires_two_killed_does_not(three: list[Any]) -> None:
    tokens = []
    with Redlock("fleet", using=ALIASES, ttl=10) as held:
        tokens.append(held.fencing_token)
    three[0].servers[0].kill()
    for _ in range(2):
        with Redlock("fleet", using=ALIASES, ttl=10) as held:
            tokens.append(held.fencing_token)
    three[1].servers[0].kill()
    with pytest.raises(LockNotAcquired):
        with Redlock("fleet", using=ALIASES, ttl=10, timeout=0.5):
            pass
    assert Redlock("fleet", using=ALIASES, ttl=10).acquire(blocking=False) is False
    three[2].servers[0].kill()
    with pytest.raises(LockUnavailable):
        Redlock("fleet", using=ALIASES, ttl=10).acquire(blocking=False)
    assert tokens == sorted(tokens) and len(set(tokens)) == len(tokens)


def test_fencing_tokens_stay_increasing_when_node_counters_diverge(three: list[Any]) -> None:
    # Node 2 misses a run of acquisitions, then node 0 restarts empty (no persistence):
    # the quorums' counters diverge, yet every holder's token is higher than the last.
    tokens = []
    three[2].servers[0].kill()
    for _ in range(3):
        with Redlock("diverge", using=ALIASES, ttl=10) as held:
            tokens.append(held.fencing_token)
    three[2].servers[0].restart()
    three[0].servers[0].kill()
    for _ in range(3):
        with Redlock("diverge", using=ALIASES, ttl=10) as held:
            tokens.append(held.fencing_token)
    assert all(a < b for a, b in itertools.pairwise(tokens)), tokens


def test_redlock_argument_errors() -> None:
    with pytest.raises(ValueError, match="using"):
        Redlock("x", using="r0")
    with pytest.raises(ValueError, match="twice"):
        Redlock("x", using=["r0", "r0"])


def test_redlock_renewal_keeps_it_held(three: list[Any]) -> None:
    import time

    with Redlock("renewed", using=ALIASES, ttl=1.0, renew=True) as held:
        time.sleep(3.0)  # three TTLs
        assert held.held and held.renewals >= 2
        assert Redlock("renewed", using=ALIASES, ttl=5).acquire(blocking=False) is False


async def test_async_redlock_quorum_with_killed_servers(three: list[Any]) -> None:
    from django_redis_patterns.locks import AsyncRedlock

    key = LockKeys.for_name("async-fleet").lock
    tokens = []
    async with AsyncRedlock("async-fleet", using=ALIASES, ttl=10) as held:
        tokens.append(held.fencing_token)
        assert all(g.servers[0].client().exists(key) for g in three)
        assert await AsyncRedlock("async-fleet", using=ALIASES, ttl=10).acquire(blocking=False) is False
        await held.extend(20)
    assert not any(g.servers[0].client().exists(key) for g in three)
    three[0].servers[0].kill()
    async with AsyncRedlock("async-fleet", using=ALIASES, ttl=10) as held:
        tokens.append(held.fencing_token)
    three[1].servers[0].kill()
    with pytest.raises(LockNotAcquired):
        async with AsyncRedlock("async-fleet", using=ALIASES, ttl=10, timeout=0.3):
            pass
    assert tokens[1] > tokens[0]


async def test_async_redlock_renewal(three: list[Any]) -> None:
    import asyncio

    from django_redis_patterns.locks import AsyncRedlock

    async with AsyncRedlock("async-renewed", using=ALIASES, ttl=1.0, renew=True) as held:
        await asyncio.sleep(3.0)  # three TTLs
        assert held.held and held.renewals >= 2
