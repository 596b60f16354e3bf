"""Exactness under real concurrency: 200 hits from 4 processes x 50 threads, released by one
barrier, against a limit of 20 -> exactly 20 allowed, on standalone and on Cluster.

The windows are ten and twenty years long, so no window edge or refill can fall inside the
test: any count other than 20 is a race, not timing.
"""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

import pytest

from django_redis_patterns.ratelimit import Limiter
from django_redis_patterns.ratelimit.algorithms import ALGORITHMS
from tests.topologies import all_topologies, standalone_and_cluster

YEAR = 365 * 86400
PROCESSES = 4
THREADS = 50
SINGLE = [(20, 10 * YEAR)]
MULTI = [(20, 10 * YEAR), (50, 20 * YEAR)]


@pytest.fixture
def patient(topology: Any, settings: Any) -> Any:
    """The topology with generous timeouts: on a loaded 2-core machine, 200 connections opened at
    once may take longer than the 1 s production connect timeout, and a timeout is not what
    these tests are about (tests/ratelimit/test_failure.py covers that)."""
    from django_redis_patterns.client import connections

    settings.CACHES = {
        **settings.CACHES,
        "default": topology.cache_config(SOCKET_CONNECT_TIMEOUT=15, SOCKET_TIMEOUT=15),
    }
    connections.reset()
    return topology


def _worker(algorithm: str, key: str, rate: Any, barrier: Any, results: Any) -> None:
    from django_redis_patterns.client import connections

    connections.reset()  # a forked child must not share the parent's sockets
    limiter = Limiter(algorithm)
    allowed: list[bool] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            barrier.wait(timeout=60)
            allowed.append(limiter.hit(key, rate).allowed)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put((sum(allowed), len(allowed), [repr(e) for e in errors]))


def fire(algorithm: str, key: str, rate: Any) -> tuple[int, int]:
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(PROCESSES * THREADS)
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(algorithm, key, rate, barrier, results)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    got = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    errors = [e for _, _, errs in got for e in errs]
    assert errors == []
    return sum(a for a, _, _ in got), sum(n for _, n, _ in got)


@standalone_and_cluster
@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_exactly_limit_allowed_of_200_concurrent(topology: Any, patient: Any, algorithm: str) -> None:
    allowed, total = fire(algorithm, f"exact-{algorithm}", SINGLE)
    assert total == 200
    assert allowed == 20


@standalone_and_cluster
@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_multi_rate_refusals_are_not_counted_by_the_other_rate(topology: Any, patient: Any, algorithm: str) -> None:
    """20/10y and 50/20y together: 20 pass; the 180 refused by the first never reach the second."""
    allowed, total = fire(algorithm, f"multi-{algorithm}", MULTI)
    assert (allowed, total) == (20, 200)
    usage = Limiter(algorithm).peek(f"multi-{algorithm}", MULTI)
    assert [r.remaining for r in usage.rates] == [0, 30]
    assert not usage.allowed


@all_topologies
@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_multi_rate_all_or_nothing_serial(topology: Any, algorithm: str) -> None:
    limiter = Limiter(algorithm)
    rates = [(3, 10 * YEAR), (10, 20 * YEAR)]
    assert [limiter.hit("serial", rates).allowed for _ in range(8)] == [True] * 3 + [False] * 5
    # The 10-per-20-years rate saw only the 3 granted hits.
    assert limiter.peek("serial", [(10, 20 * YEAR)]).remaining == 7
    # A cost that the tighter rate cannot take is refused whole.
    assert limiter.hit("other", rates, cost=3).allowed
    refused = limiter.hit("other", rates, cost=2)
    assert not refused.allowed and refused.retry_after > 0
    assert limiter.peek("other", [(10, 20 * YEAR)]).remaining == 7


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_cost_and_peek_and_reset(topology: Any, algorithm: str) -> None:
    limiter = Limiter(algorithm)
    rate = (10, 10 * YEAR)
    first = limiter.hit("c", rate, cost=4)
    assert (first.allowed, first.limit, first.remaining) == (True, 10, 6)
    assert limiter.peek("c", rate, cost=6).allowed
    assert not limiter.peek("c", rate, cost=7).allowed
    assert limiter.peek("c", rate).remaining == 6  # peeking counted nothing
    assert limiter.hit("c", rate, cost=6).remaining == 0
    refused = limiter.hit("c", rate)
    assert not refused.allowed and refused.retry_after > 0 and refused.remaining == 0
    fresh = limiter.reset("c", rate)
    assert (fresh.allowed, fresh.remaining) == (True, 10)
    assert limiter.hit("c", rate).remaining == 9


def test_bad_arguments_name_themselves(topology: Any) -> None:
    from django_redis_patterns.ratelimit import RatelimitConfigError

    with pytest.raises(RatelimitConfigError, match="cost"):
        Limiter().hit("k", "5/m", cost=0)
    with pytest.raises(RatelimitConfigError, match="cost=6"):
        Limiter().hit("k", "5/m", cost=6)
    with pytest.raises(RatelimitConfigError, match="'bogus'"):
        Limiter("bogus")
    with pytest.raises(RatelimitConfigError, match="burst"):
        Limiter("fixed_window", burst=3)
    with pytest.raises(RatelimitConfigError, match="sets no limit"):
        Limiter().hit("k", None)
    # A limiter remembers prepared calls; equal-but-wrong arguments must not ride on them.
    shared = Limiter()
    shared.hit("k", "5/m", cost=1)
    with pytest.raises(RatelimitConfigError, match="cost"):
        shared.hit("k", "5/m", cost=True)
    with pytest.raises(RatelimitConfigError, match="cost"):
        shared.hit("k", "5/m", cost=1.0)  # type: ignore[arg-type]


def test_keys_are_hashed_and_share_a_slot(topology: Any) -> None:
    from redis.crc import key_slot

    limiter = Limiter("sliding_log")
    keys = limiter.keys("login:alice@example.com", [(5, 60), (20, 3600)])
    assert all("alice" not in k for k in keys)
    assert len({key_slot(k.encode()) for k in keys}) == 1


@standalone_and_cluster
@pytest.mark.parametrize("algorithm", ["gcra", "sliding_log", "fixed_window"])
async def test_async_exactness_200_gathered(topology: Any, patient: Any, algorithm: str) -> None:
    """The async twin on redis.asyncio: 200 concurrent ahit() calls on one loop, limit 20."""
    import asyncio

    limiter = Limiter(algorithm)
    # One call first: redis-py's asyncio RedisCluster initializes its node map on first use,
    # and commands racing that initialization can find their connection closed under them
    # (AttributeError in redis-py, seen with 200 concurrent first calls). Not a limiter issue.
    await limiter.apeek("warm-up", MULTI)
    usages = await asyncio.gather(*(limiter.ahit(f"async-{algorithm}", MULTI) for _ in range(200)))
    assert sum(u.allowed for u in usages) == 20
    assert all(u.retry_after > 0 for u in usages if not u.allowed)
    peek = await limiter.apeek(f"async-{algorithm}", MULTI)
    assert [r.remaining for r in peek.rates] == [0, 30]
