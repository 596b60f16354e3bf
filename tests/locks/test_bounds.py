"""A lock's ttl/period beyond what the scripts handle exactly is a clear ValueError naming the
argument and the maximum, never a raw Redis error; the maximum itself works."""

from __future__ import annotations

from typing import Any

import pytest

from django_redis_patterns import get_redis
from django_redis_patterns.locks import AsyncLock, Lock, Redlock, alock, lock

MAX_TTL = 18250 * 86400  # the documented maximum (locks.core.MAX_TTL)
TOO_LONG = [1e300, MAX_TTL + 1, 10**20]


@pytest.mark.parametrize("ttl", TOO_LONG, ids=str)
def test_a_ttl_past_the_maximum_is_a_value_error_naming_ttl(topology: Any, ttl: Any) -> None:
    for make in (Lock, AsyncLock, lock, alock):
        with pytest.raises(ValueError, match=r"ttl must be at most 1576800000 seconds \(18250 days\)"):
            make("too-long", ttl=ttl)
    with pytest.raises(ValueError, match=r"ttl must be at most 1576800000 seconds"):
        Redlock("too-long", ttl=ttl, using=["default"])
    with pytest.raises(ValueError, match=r"period must be at most 1576800000 seconds"):
        Lock("too-long", period=ttl)


def test_extend_past_the_maximum_is_a_value_error_and_leaves_the_lock_alone(topology: Any) -> None:
    with lock("extend-me", ttl=30) as held:
        with pytest.raises(ValueError, match=r"ttl must be at most 1576800000 seconds"):
            held.extend(1e300)
        assert held.held
        held.extend(MAX_TTL)  # the maximum itself is fine
        assert get_redis().pttl("drp:lock:{extend-me}") > (MAX_TTL - 60) * 1000


def test_the_documented_maximum_is_the_validators() -> None:
    from django_redis_patterns.locks import core

    assert core.MAX_TTL == MAX_TTL


def test_the_maximum_ttl_works(topology: Any) -> None:
    with lock("longest", ttl=MAX_TTL, blocking=False) as held:
        assert held.held
        assert get_redis().pttl("drp:lock:{longest}") > (MAX_TTL - 60) * 1000
        owner = held.lock.name
    assert owner == "longest"
