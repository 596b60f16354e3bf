"""A lock's Redis going away: killed while the lock is held, or black-holed (SIGSTOP) on acquire."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis.exceptions

from django_redis_patterns.locks import LockLost, LockUnavailable, alock, lock, lock_lost
from tests.topologies import SHORT_COOLDOWN, add_alias, after_cooldown


@pytest.fixture
def doomed(redis_factory: Any, settings: Any) -> Any:
    group = redis_factory("standalone")
    settings.CACHES = {
        **settings.CACHES,
        "doomed": {"BACKEND": "django_redis_patterns.cache.RedisCache", "LOCATION": group.url},
    }
    return group


def test_renewer_gives_up_after_the_ttl_and_exit_raises_lock_lost(doomed: Any) -> None:
    lost: list[str] = []

    def receiver(sender: Any, name: str, **kw: Any) -> None:
        lost.append(name)

    lock_lost.connect(receiver)
    try:
        with pytest.raises(LockLost):
            with lock("outage", ttl=1, renew=True, using="doomed") as held:
                doomed.servers[0].kill()
                for _ in range(1000):
                    if held.lost:
                        break
                    time.sleep(0.01)
                assert held.lost and not held.held
    finally:
        lock_lost.disconnect(receiver)
    assert lost == ["outage"]


def test_release_during_an_outage_within_the_ttl_reports_unavailable(doomed: Any) -> None:
    with pytest.raises(LockUnavailable) as info:
        with lock("outage-short", ttl=30, using="doomed"):
            doomed.servers[0].kill()
    assert info.value.alias == "doomed" and info.value.command == "release"


# A black-holed server: SIGSTOPped, the kernel still completes TCP connects, nothing ever
# answers. An attempt waits a socket timeout, and with the circuit breaker on a timed-out
# attempt is not retried: a connection already in the pool fails after 1 timeout, a new
# connection's handshake too (connections.py skips redis-py's extra health-check PING).
# Calls after it fail at once while the alias's circuit is open.
SOCKET_TIMEOUT = 0.5
POOLED_TIMEOUTS = 1
NEW_CONNECTION_TIMEOUTS = 1


def no_hang_bound(timeouts: int) -> float:
    """A "no hang" bound, not a speed claim: twice the expected time, plus a second."""
    return 2 * timeouts * SOCKET_TIMEOUT + 1.0


@pytest.fixture
def stalled(redis_factory: Any, settings: Any) -> Iterator[Any]:
    group = redis_factory("standalone")
    add_alias(
        settings,
        "stalled",
        group,
        SOCKET_TIMEOUT=SOCKET_TIMEOUT,
        SOCKET_CONNECT_TIMEOUT=SOCKET_TIMEOUT,
        CIRCUIT_BREAKER_COOLDOWN=SHORT_COOLDOWN,
    )
    try:
        yield group
    finally:
        group.servers[0].resume()


@contextlib.contextmanager
def raises_unavailable_within(seconds: float) -> Iterator[Any]:
    started = time.monotonic()
    with pytest.raises(LockUnavailable) as info:
        yield info
    took = time.monotonic() - started
    assert took < seconds, f"LockUnavailable after {took:.1f}s, bound {seconds:.1f}s"
    assert info.value.alias == "stalled" and info.value.command == "acquire"
    assert isinstance(info.value, redis.exceptions.ConnectionError)  # what redis-py Lock users catch


def test_acquire_on_a_black_holed_server_raises_unavailable_within_the_bound(stalled: Any) -> None:
    with lock("warm", ttl=5, using="stalled"):  # a pooled connection, as in a running process
        pass
    stalled.servers[0].pause()
    with raises_unavailable_within(no_hang_bound(POOLED_TIMEOUTS)):
        lock("black-holed", ttl=5, using="stalled").acquire()
    # The alias's circuit is open: the next call fails at once.
    with raises_unavailable_within(no_hang_bound(NEW_CONNECTION_TIMEOUTS)):
        with lock("black-holed", ttl=5, timeout=60, using="stalled"):
            pytest.fail("acquired on a stopped server")
    stalled.servers[0].resume()
    after_cooldown()
    # Back (after the cool-down, without a restart): the alias works again. (Not "black-holed":
    # an acquire that timed out may still run when the server resumes, and that orphan hold
    # lasts its ttl; see docs/locks.md.)
    with lock("after-the-stall", ttl=5, blocking=False, using="stalled") as held:
        assert held.held


def test_acquire_on_a_server_stopped_before_first_use(stalled: Any) -> None:
    stalled.servers[0].pause()
    with raises_unavailable_within(no_hang_bound(NEW_CONNECTION_TIMEOUTS)):
        with lock("never-reached", ttl=5, using="stalled"):
            pytest.fail("acquired on a stopped server")


async def test_async_acquire_on_a_black_holed_server_raises_unavailable(stalled: Any) -> None:
    stalled.servers[0].pause()
    with raises_unavailable_within(no_hang_bound(NEW_CONNECTION_TIMEOUTS)):
        await alock("never-reached", ttl=5, using="stalled").acquire()


# A renewal stuck in a socket read: the server is SIGSTOPped while a renewing lock is held.
# With a 1.5 s socket timeout the first renewal (at ttl/3) blocks for two timeouts, well past
# the local expiry; lock_lost must still go out at the local expiry, not when the call returns.
HUNG_TIMEOUT = 1.5
LOST_MARGIN = 0.5  # scheduling slack on a busy machine; the old behaviour was ~1.7 s late


@pytest.fixture
def hung(redis_factory: Any, settings: Any) -> Iterator[Any]:
    group = redis_factory("standalone")
    add_alias(settings, "hung", group, SOCKET_TIMEOUT=HUNG_TIMEOUT, SOCKET_CONNECT_TIMEOUT=HUNG_TIMEOUT)
    try:
        yield group
    finally:
        group.servers[0].resume()


@contextlib.contextmanager
def lost_signals() -> Iterator[list[tuple[float, Any]]]:
    fired: list[tuple[float, Any]] = []

    def receiver(sender: Any, name: str, handle: Any, **kw: Any) -> None:
        fired.append((time.monotonic(), handle))

    lock_lost.connect(receiver)
    try:
        yield fired
    finally:
        lock_lost.disconnect(receiver)


def wait_until(predicate: Any, limit: float) -> None:
    deadline = time.monotonic() + limit
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_lock_lost_fires_at_the_local_expiry_while_the_renewal_hangs(hung: Any) -> None:
    ttl = 2.0
    with lost_signals() as fired:
        with pytest.raises(LockLost):
            with lock("hung-renewal", ttl=ttl, renew=True, using="hung") as held:
                expires = held._expires  # the local expiry, measured from before the acquire
                hung.servers[0].pause()
                wait_until(lambda: fired, ttl + 2 * HUNG_TIMEOUT + 2)
                assert held.lost and not held.held
                hung.servers[0].resume()
    assert len(fired) == 1 and fired[0][1] is held
    late = fired[0][0] - expires
    assert 0 <= late <= LOST_MARGIN, f"lock_lost {late:.2f}s after the local expiry"


async def test_async_lock_lost_fires_at_the_local_expiry_while_the_renewal_hangs(hung: Any) -> None:
    import asyncio

    ttl = 2.0
    with lost_signals() as fired:
        with pytest.raises(LockLost):
            async with alock("hung-renewal-async", ttl=ttl, renew=True, using="hung") as held:
                expires = held._expires
                hung.servers[0].pause()
                deadline = time.monotonic() + ttl + 2 * HUNG_TIMEOUT + 2
                while not fired and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
                assert held.lost and not held.held
                hung.servers[0].resume()
    assert len(fired) == 1 and fired[0][1] is held
    late = fired[0][0] - expires
    assert 0 <= late <= LOST_MARGIN, f"lock_lost {late:.2f}s after the local expiry"
