"""get_or_set stampede protection: lock mode computes once; XFetch refreshes hot keys early."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from django.core.cache import caches

from django_redis_patterns import get_redis
from django_redis_patterns.cache.stampede import LOCK_SUFFIX
from tests.cache.conftest import counting
from tests.topologies import all_topologies, standalone_and_cluster


class Expensive:
    """A slow computation that records how often, and how concurrently, it ran."""

    def __init__(self, seconds: float, key: str | None = None) -> None:
        self.seconds = seconds
        self.key = key
        self.calls = 0
        self.running = 0
        self.max_running = 0
        self.key_existed: list[bool] = []
        self._lock = threading.Lock()

    def __call__(self) -> dict[str, int]:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.max_running = max(self.max_running, self.running)
            n = self.calls
        if self.key is not None:
            # A recompute while the key still exists is an early refresh; otherwise a miss.
            self.key_existed.append(bool(get_redis().exists(self.key)))
        time.sleep(self.seconds)
        with self._lock:
            self.running -= 1
        return {"version": n}


def _threads(n: int, target: Any) -> list[Any]:
    results: list[Any] = [None] * n
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = target()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@all_topologies
def test_lock_mode_computes_once_for_50_concurrent_callers(cache: Any) -> None:
    compute = Expensive(0.3)
    cache.set("report", "old", 1)
    cache.delete("report")  # expired
    results = _threads(50, lambda: cache.get_or_set("report", compute, 60, stampede="lock"))
    assert compute.calls == 1
    assert results == [{"version": 1}] * 50
    assert cache.get("report") == {"version": 1}


@standalone_and_cluster
async def test_async_lock_mode_computes_once_for_50_concurrent_callers(cache: Any) -> None:
    calls = 0

    def compute() -> str:
        nonlocal calls
        calls += 1
        return "fresh"

    async def caller() -> Any:
        return await cache.aget_or_set("report", compute, 60, stampede="lock")

    # The lock holder computes synchronously, so make the others arrive first and wait.
    results = await asyncio.gather(*(caller() for _ in range(50)))
    assert calls == 1
    assert results == ["fresh"] * 50


@standalone_and_cluster
def test_without_protection_every_caller_computes(cache: Any) -> None:
    compute = Expensive(0.3)
    _threads(20, lambda: cache.get_or_set("report", compute, 60, stampede=None))
    assert compute.calls == 20  # the stampede the other modes prevent


@all_topologies
def test_xfetch_refreshes_a_hot_key_before_it_expires(cache: Any) -> None:
    timeout = 2.0
    compute = Expensive(0.1, key=":1:hot")
    first = cache.get_or_set("hot", compute, timeout, stampede="xfetch")
    assert first == {"version": 1}
    stop = time.monotonic() + 3 * timeout
    seen: list[Any] = []

    def hammer() -> None:
        while time.monotonic() < stop:
            seen.append(cache.get_or_set("hot", compute, timeout, stampede="xfetch"))

    _threads(20, hammer)
    # The key outlived three TTLs only because callers refreshed it early ...
    assert compute.calls >= 3
    # ... and every refresh after the first fill happened while the old value was live:
    assert compute.key_existed[0] is False
    assert all(compute.key_existed[1:]), compute.key_existed
    # Callers got only computed values, and every refresh reached callers (the caller that
    # recomputed returns its own value), not the first value served until it expired.
    versions = {value["version"] for value in seen}
    assert versions <= set(range(1, compute.calls + 1)), (versions, compute.calls)
    assert set(range(2, compute.calls + 1)) <= versions, (versions, compute.calls)


@standalone_and_cluster
def test_lock_mode_refreshes_a_hot_key_with_one_computation_at_a_time(cache: Any) -> None:
    timeout = 2.0
    compute = Expensive(0.1, key=":1:hot")
    cache.get_or_set("hot", compute, timeout, stampede="lock")
    stop = time.monotonic() + 3 * timeout

    def hammer() -> None:
        while time.monotonic() < stop:
            assert cache.get_or_set("hot", compute, timeout, stampede="lock") is not None

    _threads(20, hammer)
    assert compute.calls >= 3
    assert compute.max_running == 1
    assert all(compute.key_existed[1:]), compute.key_existed


@standalone_and_cluster
def test_a_failing_computation_releases_the_lock(cache: Any) -> None:
    def boom() -> Any:
        raise RuntimeError("backend down")

    with pytest.raises(RuntimeError, match="backend down"):
        cache.get_or_set("k", boom, 60, stampede="lock")
    assert get_redis().exists(":1:k:stampede-lock") == 0
    started = time.monotonic()
    assert cache.get_or_set("k", lambda: "ok", 60, stampede="lock") == "ok"
    assert time.monotonic() - started < 5  # did not wait for the lock's 10 s bound


@pytest.mark.parametrize("serializer", ["pickle", "json", "msgpack"])
@standalone_and_cluster
async def test_every_mode_works_with_every_serializer(settings: Any, topology: Any, serializer: str) -> None:
    settings.CACHES = {**settings.CACHES, "default": topology.cache_config(SERIALIZER=serializer)}
    cache = caches["default"]
    value = {"name": "board", "top": [1, 2, 3]}
    for mode in ("xfetch", "lock", None):
        key = f"k-{mode}"
        assert cache.get_or_set(key, lambda: value, 60, stampede=mode) == value
        assert cache.get_or_set(key, lambda: "not called", 60, stampede=mode) == value
        assert cache.get(key) == value  # a plain get reads the stampede envelope
        assert await cache.aget_or_set(f"a{key}", lambda: value, 60, stampede=mode) == value
        assert await cache.aget(f"a{key}") == value
        assert 50 < cache.ttl(key) <= 60


@standalone_and_cluster
def test_integers_from_get_or_set_stay_incrementable(cache: Any) -> None:
    assert cache.get_or_set("visits", lambda: 10, 60) == 10
    assert get_redis().get(":1:visits") == b"10"
    assert cache.incr("visits") == 11


@standalone_and_cluster
def test_plain_values_and_options(settings: Any, topology: Any) -> None:
    settings.CACHES = {**settings.CACHES, "default": topology.cache_config(STAMPEDE=None)}
    cache = caches["default"]
    assert cache.get_or_set("k", lambda: "v", 60) == "v"
    assert get_redis().get(":1:k").startswith(b"\x80")  # a plain pickle, no envelope
    assert cache.get_or_set("k", "other") == "v"
    assert cache.get_or_set("zero", "v", 0) == "v"
    assert cache.has_key("zero") is False
    with pytest.raises(ValueError, match="stampede"):
        cache.get_or_set("k", lambda: 1, stampede="sometimes")


@standalone_and_cluster
def test_a_callable_default_uses_xfetch_when_no_mode_is_given(cache: Any, topology: Any) -> None:
    from django_redis_patterns.cache.codec import ENVELOPE, ENVELOPE_SIZE, Codec

    def slow() -> str:
        time.sleep(0.05)
        return "computed"

    raw = get_redis()
    assert cache.get_or_set("plain", slow, 60, stampede=None) == "computed"
    assert raw.get(":1:plain").startswith(b"\x80")  # stampede=None: a bare pickle
    assert cache.get_or_set("default", slow, 60) == "computed"
    stored = raw.get(":1:default")
    # XFetch's envelope, carrying the measured compute time (delta), then the pickle.
    assert stored.startswith(ENVELOPE) and Codec.compute_ms(stored) >= 50
    assert stored[ENVELOPE_SIZE:].startswith(b"\x80")
    assert cache.get("default") == "computed"

    # A stored delta far above the time left makes XFetch recompute early (probability
    # 1 - 1e-5); plain get_or_set keeps serving the stored value.
    huge = Codec.wrap(cache._codec.encode("stale"), 0xFFFFFFFF)
    for key in ("default", "plain"):
        raw.set(f":1:{key}", huge, px=60_000)
    assert cache.get_or_set("plain", lambda: "fresh", 60, stampede=None) == "stale"
    cache.get_or_set("warm", lambda: "x", 60)  # scripts cached: the count below is the call's own
    with counting(topology.group) as counts:
        assert cache.get_or_set("default", lambda: "fresh", 60) == "fresh"
    # XFetch takes no lock: one value SET and no lock release ("lock" mode: 2 SETs, an EVAL).
    assert counts.get("set") == 1 and counts.get("eval", 0) == 0 and counts.get("del", 0) == 0, counts
    assert cache.get("default") == "fresh"


@pytest.mark.parametrize("mode", ["sync", "async"])
@standalone_and_cluster
async def test_lock_mode_waiter_gives_up_after_the_lock_timeout_and_computes(
    settings: Any, topology: Any, mode: str
) -> None:
    lock_timeout = 0.5
    settings.CACHES = {**settings.CACHES, "default": topology.cache_config(STAMPEDE_LOCK_TIMEOUT=lock_timeout)}
    cache = caches["default"]
    raw = get_redis()
    # Someone else holds the recompute lock (and never writes); there is no stale value.
    raw.set(":1:report" + LOCK_SUFFIX, "someone-else", px=60_000)
    calls = 0

    def compute() -> str:
        nonlocal calls
        calls += 1
        return "mine"

    started = time.monotonic()
    if mode == "async":
        value = await cache.aget_or_set("report", compute, 60, stampede="lock")
    else:
        value = cache.get_or_set("report", compute, 60, stampede="lock")
    elapsed = time.monotonic() - started
    assert value == "mine" and calls == 1
    assert elapsed >= lock_timeout * 0.9  # it did wait for the holder first
    # ... but no longer than the bound (polls are <= 0.1 s apart); slack: 3x, and far below
    # the 60 s the other holder's lock lives or the 10 s default bound.
    assert elapsed < lock_timeout + 0.1 + 3 * (lock_timeout + 0.1), elapsed
    assert cache.get("report") == "mine"  # stored for the next callers
    assert raw.get(":1:report" + LOCK_SUFFIX) == b"someone-else"  # the other's lock is not touched
