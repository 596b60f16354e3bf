"""The Prometheus listener: each pattern's numbers, and labels that stay bounded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from prometheus_client import CollectorRegistry

from django_redis_patterns.contrib import prometheus
from django_redis_patterns.locks import LockNotAcquired, lock
from django_redis_patterns.ratelimit.core import Limiter


@pytest.fixture
def registry() -> Iterator[CollectorRegistry]:
    prometheus.uninstall()
    reg = CollectorRegistry()
    prometheus.install(reg)
    yield reg
    prometheus.uninstall()


def sample(reg: CollectorRegistry, name: str, **labels: str) -> float:
    return reg.get_sample_value(name, labels) or 0.0


def test_cache_hits_misses_and_commands(topology: Any, registry: CollectorRegistry) -> None:
    cache.set("a", 1)
    for key in ("a", "a", "b"):
        cache.get(key)
    assert sample(registry, "django_redis_cache_get_hits_total", alias="default", prefix="") == 2
    assert sample(registry, "django_redis_cache_get_misses_total", alias="default", prefix="") == 1
    assert sample(registry, "django_redis_commands_total", alias="default", pattern="cache", command="GET") == 3
    assert sample(registry, "django_redis_commands_total", alias="default", pattern="cache", command="SET") == 1


def test_lock_acquires_waits_and_holds(topology: Any, registry: CollectorRegistry) -> None:
    with lock("m:job", ttl=5):
        with pytest.raises(LockNotAcquired), lock("m:job", ttl=5, blocking=False):
            pass
    assert sample(registry, "django_redis_lock_acquires_total", alias="default", result="acquired") == 1
    assert sample(registry, "django_redis_lock_acquires_total", alias="default", result="not_acquired") == 1
    assert sample(registry, "django_redis_lock_wait_seconds_count", alias="default") == 2
    assert sample(registry, "django_redis_lock_hold_seconds_count", alias="default") == 1


def test_open_ended_labels_are_capped(topology: Any, registry: CollectorRegistry, monkeypatch: Any) -> None:
    monkeypatch.setattr(prometheus, "MAX_LABEL_VALUES", 3)
    prometheus.uninstall()
    reg = CollectorRegistry()
    prometheus.install(reg)
    limiter = Limiter("gcra")
    for i in range(6):
        limiter.hit(f"group{i}\x00client", "5/m")
    groups = {
        s.labels["group"]
        for m in reg.collect()
        if m.name == "django_redis_ratelimit_decisions"
        for s in m.samples
        if s.name.endswith("_total")
    }
    assert groups == {"group0", "group1", "group2", "other"}
    assert (
        sample(
            reg,
            "django_redis_ratelimit_decisions_total",
            alias="default",
            algorithm="gcra",
            group="other",
            decision="allowed",
        )
        == 3
    )


def test_install_twice_is_one_listener_and_another_registry_is_refused(registry: CollectorRegistry) -> None:
    assert prometheus.install(registry) is prometheus.installed()
    with pytest.raises(ValueError, match="already installed"):
        prometheus.install(CollectorRegistry())


def test_counts_from_many_threads_are_exact(topology: Any, registry: CollectorRegistry) -> None:
    import threading

    cache.set("t", 1)
    start = threading.Barrier(4)

    def reader() -> None:
        start.wait()
        for _ in range(250):
            cache.get("t")
            cache.get("absent")

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sample(registry, "django_redis_cache_get_hits_total", alias="default", prefix="") == 1000
    assert sample(registry, "django_redis_cache_get_misses_total", alias="default", prefix="") == 1000
    gets = sample(registry, "django_redis_commands_total", alias="default", pattern="cache", command="GET")
    assert gets == 2000
    timed = sample(registry, "django_redis_command_duration_seconds_count", alias="default", pattern="cache")
    assert timed == 2001  # the SET too
    # A second scrape adds only what happened since the first.
    cache.get("t")
    assert sample(registry, "django_redis_cache_get_hits_total", alias="default", prefix="") == 1001


def test_an_unreachable_alias_counts_the_failed_command_and_opens_the_breaker(
    settings: Any, registry: CollectorRegistry
) -> None:
    import redis

    from django_redis_patterns import get_redis
    from django_redis_patterns.client import connections
    from django_redis_patterns.client.breaker import CircuitOpen

    settings.CACHES = {
        **settings.CACHES,
        "default": {"BACKEND": "django_redis_patterns.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"},
    }
    connections.reset()
    with pytest.raises(redis.ConnectionError):
        get_redis().ping()
    with pytest.raises(CircuitOpen):  # failing fast: no command reached a socket
        get_redis().ping()
    assert sample(registry, "django_redis_breaker_open", alias="default") == 1
    assert sample(registry, "django_redis_breaker_opened_total", alias="default") == 1
    assert sample(registry, "django_redis_command_errors_total", alias="default", pattern="other") == 2
