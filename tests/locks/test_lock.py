"""Lock over one Redis: acquire/release/extend semantics on every topology."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from redis.crc import key_slot

from django_redis_patterns import get_redis
from django_redis_patterns.locks import (
    Lock,
    LockError,
    LockLost,
    LockNotAcquired,
    lock,
    lock_acquired,
    lock_lost,
    lock_released,
)
from django_redis_patterns.locks.core import LockKeys
from tests.locks.conftest import WOKEN_WITHIN, slow_polling, wait_for_waiter
from tests.topologies import all_topologies


@all_topologies
def test_acquire_release_and_fencing_tokens_increase(topology: Any) -> None:
    tokens = []
    for _ in range(3):
        with lock("report", ttl=5) as held:
            assert held.held
            tokens.append(held.fencing_token)
        assert not held.held and held.released
    assert tokens == sorted(tokens) and len(set(tokens)) == 3
    assert get_redis().exists(LockKeys.for_name("report").lock) == 0


@all_topologies
def test_busy_lock_raises_or_returns_false_with_holder(topology: Any) -> None:
    with lock("busy", ttl=5) as held:
        with pytest.raises(LockNotAcquired) as info:
            with lock("busy", blocking=False):
                pass
        owner = info.value.owner
        assert owner is not None and owner.pid is not None and owner.fencing_token == held.fencing_token
        assert "could not be acquired without waiting" in str(info.value)
        assert lock("busy").acquire(blocking=False) is False
        with pytest.raises(LockNotAcquired):
            with lock("busy", timeout=0.05):
                pass


@all_topologies
def test_a_retried_acquire_whose_first_reply_was_lost_gets_the_lock(
    topology: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # redis-py retries a call that timed out; if Redis had run the first acquire, the retry
    # finds the lock held with its own token. It must get the lock, not wait out its own TTL.
    from django_redis_patterns.locks import core

    held_elsewhere = lock("retried", ttl=30)
    first_run = core.parse_acquire(
        core.ACQUIRE(get_redis(), held_elsewhere.keys.acquire, held_elsewhere._acquire_args("tok-lost-reply", 0))
    )
    assert first_run.acquired  # ... and its reply never reached the client
    monkeypatch.setattr(core, "new_token", lambda: "tok-lost-reply")
    retried = lock("retried", ttl=30)
    assert retried.acquire(blocking=False) is True
    assert retried.fencing_token == first_run.fence  # the same hold: no second fencing token
    assert int(get_redis().get(LockKeys.for_name("retried").fence)) == first_run.fence
    monkeypatch.undo()
    assert lock("retried").acquire(blocking=False) is False  # anyone else still finds it busy
    retried.release()


@all_topologies
def test_keys_of_a_lock_share_one_cluster_slot(topology: Any) -> None:
    keys = LockKeys.for_name("orders:42")
    assert len({key_slot(k.encode()) for k in (keys.lock, keys.fence, keys.wake, keys.waiting)}) == 1


@all_topologies
def test_non_owner_cannot_release_or_extend(topology: Any) -> None:
    holder = lock("shared", ttl=5)
    stranger = lock("shared", ttl=5)
    assert holder.acquire()
    with pytest.raises(LockError):
        stranger.release()
    with pytest.raises(LockError):
        stranger.extend(100)
    assert holder.held
    client = get_redis()
    key = LockKeys.for_name("shared").lock
    # The holder's lock expires and someone else takes it: the old handle can neither
    # release nor extend the new holder's lock.
    handle = holder.handle()
    client.delete(key)
    assert stranger.acquire(blocking=False)
    new_token = stranger.token
    with pytest.raises(LockLost):
        handle.extend(100)
    assert 0 < client.pttl(key) <= 5000
    with pytest.raises(LockLost):
        handle.release()
    assert client.get(key).decode().split("|")[0] == new_token
    stranger.release()


@all_topologies
def test_extend_sets_ttl(topology: Any) -> None:
    with lock("extend-me", ttl=2) as held:
        held.extend(60)
        assert get_redis().pttl(LockKeys.for_name("extend-me").lock) > 2000


@all_topologies
def test_waiter_is_woken_by_release(topology: Any, settings: Any) -> None:
    slow_polling(settings, topology)
    first = lock("handover", ttl=60)
    assert first.acquire()
    got: list[tuple[int, float]] = []

    def waiter() -> None:
        with lock("handover", ttl=30, timeout=40) as held:
            got.append((held.fencing_token, time.monotonic()))

    thread = threading.Thread(target=waiter)
    thread.start()
    wait_for_waiter("handover")
    token = first.fencing_token
    released_at = time.monotonic()
    first.release()
    thread.join(45)
    # ttl=60 and a 20 s polling slice: only the release's wake-up lets it in this soon.
    assert got, "the waiter never got the lock"
    assert got[0][0] > token
    assert got[0][1] - released_at < WOKEN_WITHIN, f"woken {got[0][1] - released_at:.2f}s after the release"


@all_topologies
def test_waiter_gets_lock_of_holder_that_died(topology: Any) -> None:
    # A holder that never releases: the waiter's polling fallback takes over at expiry.
    dead = lock("abandoned", ttl=0.3)
    assert dead.acquire()
    with lock("abandoned", timeout=10) as held:
        assert held.fencing_token == dead.fencing_token + 1


def test_socket_timeout_does_not_cut_a_wait_short(settings: Any, standalone_server: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "short": {
            "BACKEND": "django_redis_patterns.cache.RedisCache",
            "LOCATION": standalone_server.url,
            "OPTIONS": {"SOCKET_TIMEOUT": 1.0},
        },
    }
    holder = lock("slow-holder", ttl=30, using="short")
    assert holder.acquire()
    release = threading.Timer(3.0, holder.handle().release)  # 3x the socket timeout
    release.start()
    with lock("slow-holder", ttl=5, timeout=10, using="short") as held:
        assert held.held
    release.join()


@all_topologies
def test_signals_and_owner_metadata(topology: Any) -> None:
    seen: list[tuple[str, str]] = []

    def on(signal_name: str) -> Any:
        def receiver(sender: Any, name: str, handle: Any, **kw: Any) -> None:
            seen.append((signal_name, name))

        return receiver

    receivers = {sig: on(label) for sig, label in ((lock_acquired, "acq"), (lock_released, "rel"), (lock_lost, "lost"))}
    for sig, receiver in receivers.items():
        sig.connect(receiver)
    try:
        with lock("observed", ttl=5) as handle:
            import os

            from django_redis_patterns.locks import inspection

            owner = inspection.info("observed").owner
            assert owner is not None
            assert (owner.pid, owner.renewals, owner.fencing_token) == (os.getpid(), 0, handle.fencing_token)
            assert owner.argv and owner.acquired_at == handle.acquired_at
        held = lock("observed", ttl=0.2)
        held.acquire()
        time.sleep(0.3)  # the hold expires
        with pytest.raises(LockLost):
            held.release()
    finally:
        for sig, receiver in receivers.items():
            sig.disconnect(receiver)
    assert seen == [("acq", "observed"), ("rel", "observed"), ("acq", "observed"), ("lost", "observed")]


def test_decorator_runs_each_call_under_the_lock(topology: Any) -> None:
    calls: list[bool] = []

    @lock("decorated", ttl=5)
    def job() -> str:
        calls.append(Lock("decorated").acquire(blocking=False))
        return "ok"

    assert job() == "ok" and job() == "ok"
    assert calls == [False, False]


def test_lock_object_is_per_thread_and_not_reentrant(topology: Any) -> None:
    shared = lock("per-thread", ttl=5)
    assert shared.acquire()
    with pytest.raises(LockError, match="not reentrant"):
        shared.acquire()
    other: list[Any] = []

    def thread_body() -> None:
        other.append(shared.acquire(blocking=False))
        try:
            shared.release()
        except LockError as exc:
            other.append(type(exc).__name__)

    t = threading.Thread(target=thread_body)
    t.start()
    t.join()
    assert other == [False, "LockError"]
    assert shared.held
    shared.release()


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"ttl": 0}, "ttl"),
        ({"ttl": "10"}, "ttl"),
        ({"timeout": -1}, "timeout"),
        ({"max_hold": 0}, "max_hold"),
        ({"blocking": "yes"}, "blocking"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict[str, Any], argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        lock("x", **kwargs)


@pytest.mark.parametrize("name", ["", "a{b}", None])
def test_bad_names(name: Any) -> None:
    with pytest.raises(ValueError, match="lock name"):
        lock(name)


@all_topologies
async def test_lock_on_a_connection_spec(topology: Any) -> None:
    # What a cache backend (built by Django without its alias) passes: its LOCATION/OPTIONS.
    from django_redis_patterns.client import connections
    from django_redis_patterns.locks import alock

    spec = connections.parse(topology.location)
    with lock("by-spec", ttl=5, using=spec) as held:
        assert held.held
        assert lock("by-spec", using="default").acquire(blocking=False) is False
    async with alock("by-spec", ttl=5, using=spec) as aheld:
        assert aheld.fencing_token == held.fencing_token + 1


@all_topologies
def test_a_retried_release_whose_first_reply_was_lost_is_a_clean_release(topology: Any) -> None:
    # The first release ran on Redis but its reply was lost (a timeout); the client's retry then
    # finds the lock gone. Nobody took it since (the fencing counter still names this hold),
    # so that is our own release, not a lost lock.
    from django_redis_patterns.locks import core

    released: list[str] = []

    def on_released(sender: Any, name: str, handle: Any, **kw: Any) -> None:
        released.append(name)

    lock_released.connect(on_released)
    try:
        held = lock("retried-release", ttl=5)
        assert held.acquire()
        handle = held.handle()
        keys = LockKeys.for_name("retried-release")
        args = core.release_args(handle.token, fencing_token=handle.fencing_token)
        assert int(core.RELEASE(get_redis(), keys.release, args)) == 1  # the run whose reply was lost
        held.release()  # the retry: no LockLost
    finally:
        lock_released.disconnect(on_released)
    assert released == ["retried-release"]


@all_topologies
def test_a_lock_deleted_and_taken_by_another_holder_is_lost(topology: Any) -> None:
    first = lock("taken-over", ttl=5)
    assert first.acquire()
    get_redis().delete(LockKeys.for_name("taken-over").lock)  # gone early (e.g. evicted)
    with lock("taken-over", ttl=5):  # someone else got in meanwhile
        pass
    with pytest.raises(LockLost):
        first.release()


def test_an_operator_force_release_is_reported_lost_by_the_holder(topology: Any) -> None:
    from django_redis_patterns.locks import inspection

    held = lock("forced", ttl=5)
    assert held.acquire()
    token = held.handle().fencing_token
    assert inspection.force_release("forced") is True
    with pytest.raises(LockLost):
        held.release()
    with lock("forced", ttl=5) as next_holder:  # fencing tokens still only go up
        assert next_holder.fencing_token > token
