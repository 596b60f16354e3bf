"""Locks: uncontended acquire+release, Redlock over 3 servers, and hand-over latency.

Competitors: redis-py's ``Lock`` (polls every 0.1 s while waiting), python-redis-lock
(BLPOP wake-up) and pottery's ``Redlock`` (a thread pool per operation).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
import redis_lock
from django.test.utils import override_settings
from pottery import Redlock as PotteryRedlock

from django_redis_patterns import get_redis
from django_redis_patterns.client import connections
from django_redis_patterns.locks import Lock, Redlock

from .harness import Context

HANDOVERS = 40


def _handover_ms(acquire: Callable[[], Any], release: Callable[[Any], None], rounds: int) -> float:
    """Median ms from the holder's release() call to the waiter's acquire returning."""
    held = threading.Event()
    waiter_done = threading.Event()
    start: list[float] = []
    samples: list[float] = []

    def waiter() -> None:
        for _ in range(rounds):
            held.wait()
            held.clear()
            token = acquire()  # blocks until the holder releases
            samples.append((time.perf_counter() - start[-1]) * 1000)
            release(token)
            waiter_done.set()

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    for _ in range(rounds):
        token = acquire()
        held.set()
        time.sleep(0.02)  # let the waiter block
        start.append(time.perf_counter())
        release(token)
        waiter_done.wait()
        waiter_done.clear()
    thread.join()
    return statistics.median(samples)


def run(ctx: Context) -> None:
    client = ctx.redis()

    # -- uncontended acquire + release ----------------------------------------------------
    ours = Lock("bench:ours", ttl=30)
    theirs = client.lock("bench:redis-py", timeout=30)
    prl = redis_lock.Lock(client, "bench:prl", expire=30)
    # redis-py's Lock on our client too: same connection settings (socket timeout), so this
    # row isolates the lock logic from the connection configuration.
    theirs_same_client = get_redis().lock("bench:redis-py-same-client", timeout=30)

    def ours_cycle() -> None:
        with ours:
            pass

    def redispy_cycle() -> None:
        with theirs:
            pass

    def redispy_same_client_cycle() -> None:
        with theirs_same_client:
            pass

    def prl_cycle() -> None:
        prl.acquire()
        prl.release()

    ctx.compare(
        "lock: uncontended acquire+release",
        {
            "ours: lock()": ours_cycle,
            "redis-py Lock": redispy_cycle,
            "redis-py Lock on get_redis()": redispy_same_client_cycle,
            "python-redis-lock": prl_cycle,
        },
        number=1000,
        repeat=11,
    )

    # -- Redlock over 3 servers -------------------------------------------------------------
    servers = ctx.extra_servers(3)
    caches = {
        f"redlock{i}": {"BACKEND": "django_redis_patterns.cache.RedisCache", "LOCATION": s.url}
        for i, s in enumerate(servers)
    }
    masters = {redis.Redis.from_url(s.url) for s in servers}
    with override_settings(CACHES={**_current_caches(), **caches}):
        connections.reset()
        ours_red = Redlock("bench:redlock", using=list(caches), ttl=30)
        pottery = PotteryRedlock(key="bench:pottery", masters=masters, auto_release_time=30)

        def ours_redlock() -> None:
            with ours_red:
                pass

        def pottery_redlock() -> None:
            with pottery:
                pass

        ctx.compare(
            "Redlock over 3 servers: acquire+release",
            {"ours: Redlock": ours_redlock, "pottery Redlock": pottery_redlock},
            number=300,
            repeat=5,
        )
    connections.reset()

    # -- hand-over latency ------------------------------------------------------------------
    rounds = max(10, HANDOVERS // (3 if ctx.quick else 1))
    ours_wait = Lock("bench:handover-ours", ttl=30)

    def ours_acquire() -> Any:
        return ours_wait._acquire(True, 30)

    def redispy_acquire() -> Any:
        lk = client.lock("bench:handover-redis-py", timeout=30, thread_local=False)
        lk.acquire(blocking=True, blocking_timeout=30)
        return lk

    def prl_acquire() -> Any:
        lk = redis_lock.Lock(client, "bench:handover-prl", expire=30)
        lk.acquire(blocking=True, timeout=30)
        return lk

    for contender, acquire in (
        ("ours: lock()", ours_acquire),
        ("redis-py Lock (polling)", redispy_acquire),
        ("python-redis-lock (BLPOP)", prl_acquire),
    ):
        ctx.record(
            "lock: hand-over latency (median)", contender, _handover_ms(acquire, lambda h: h.release(), rounds), "ms"
        )


def _current_caches() -> dict[str, Any]:
    from django.conf import settings

    return dict(settings.CACHES)
