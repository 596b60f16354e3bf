"""Redis down, paused or failing over: documented fallbacks, one exception type, one log line."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from django.core.cache import caches
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError

from django_redis_patterns.cache.errors import CacheError
from django_redis_patterns.client import connections
from django_redis_patterns.client.breaker import CircuitOpen
from django_redis_patterns.exceptions import RedisUnavailable
from tests.cache.conftest import Api, point_default_at
from tests.gcpause import no_full_collections
from tests.topologies import SHORT_COOLDOWN, after_cooldown

# (method, args, what it returns when the error is ignored, the command named in errors)
CALLS: list[tuple[str, tuple[Any, ...], Any, str]] = [
    ("get", ("k",), None, "GET"),
    ("get", ("k", "dflt"), "dflt", "GET"),
    ("set", ("k", 1), False, "SET"),
    ("add", ("k", 1), False, "SET"),
    ("delete", ("k",), False, "DEL"),
    ("has_key", ("k",), False, "EXISTS"),
    ("get_many", (["a", "b"],), {}, "MGET"),
    ("set_many", ({"a": 1, "b": 2},), ["a", "b"], "SET (many)"),
    ("delete_many", (["a", "b"],), None, "DEL (many)"),
    ("incr", ("n",), False, "INCRBY"),
    ("decr", ("n",), False, "INCRBY"),
    ("touch", ("k", 10), False, "PEXPIRE"),
    ("incr_version", ("k",), False, "RENAME"),
    ("ttl", ("k",), None, "TTL"),
    ("pttl", ("k",), None, "PTTL"),
    ("expire", ("k", 10), False, "EXPIRE"),
    ("pexpire", ("k", 10_000), False, "PEXPIRE"),
    ("expire_at", ("k", 2_000_000_000), False, "EXPIREAT"),
    ("persist", ("k",), False, "PERSIST"),
    ("delete_pattern", ("*",), 0, "SCAN+UNLINK"),
    ("clear", (), False, "CLEAR"),
]


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "django_redis_patterns.cache" and r.levelno == logging.WARNING]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_ignore_exceptions_returns_fallbacks_and_logs_once(
    redis_factory: Any, settings: Any, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    group = redis_factory("standalone")
    cache = point_default_at(
        settings, group.url, OPTIONS={"IGNORE_EXCEPTIONS": True, "CIRCUIT_BREAKER_COOLDOWN": SHORT_COOLDOWN}
    )
    api = Api(cache, mode == "async")
    await api.set("k", "before")
    group.primary.kill()
    caplog.set_level(logging.INFO, logger="django_redis_patterns.cache")
    for name, args, fallback, _ in CALLS:
        assert await getattr(api, name)(*args) == fallback, name
    assert await api.get_or_set("k", lambda: "computed", 60) == "computed"  # Redis bypassed
    assert await api.get_or_set("k", lambda: "computed", 60, stampede="lock") == "computed"
    if api.is_async:
        assert [k async for k in cache.aiter_keys("*")] == []
    else:
        assert list(cache.iter_keys("*")) == []
    warnings = _warnings(caplog)
    assert len(warnings) == 1  # one incident, one line
    assert "'default'" in warnings[0].getMessage() and "GET" in warnings[0].getMessage()
    assert warnings[0].alias == "default" and warnings[0].command == "GET"  # type: ignore[attr-defined]

    group.primary.restart()
    after_cooldown()  # the alias failed fast for its cool-down; the next call probes and finds it back
    await api.set("k", "after")
    assert await api.get("k") == "after"
    assert any("answers again" in r.getMessage() for r in caplog.records)
    group.primary.kill()
    assert await api.get("k", "dflt") == "dflt"
    assert len(_warnings(caplog)) == 2  # a new incident is logged again


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_log_ignored_exceptions_logs_every_ignored_error_as_django_redis_does(
    redis_factory: Any, settings: Any, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    """django-redis's opt-in: each ignored error is an ERROR "Exception ignored" (with its
    traceback) on DJANGO_REDIS_LOGGER, instead of the one WARNING per incident."""
    group = redis_factory("standalone")
    settings.DJANGO_REDIS_LOGGER = "myproject.cache"
    cache = point_default_at(
        settings,
        group.url,
        OPTIONS={"IGNORE_EXCEPTIONS": True, "LOG_IGNORED_EXCEPTIONS": True, "CIRCUIT_BREAKER_COOLDOWN": SHORT_COOLDOWN},
    )
    assert cache._log_ignored_exceptions is True
    api = Api(cache, mode == "async")
    group.primary.kill()
    caplog.set_level(logging.INFO)
    assert await api.get("k") is None
    assert await api.get("k", "dflt") == "dflt"
    assert await api.set("k", 1) is False
    ours = [r for r in caplog.records if r.name in ("myproject.cache", "django_redis_patterns.cache")]
    assert [(r.name, r.levelname, r.msg) for r in ours] == [("myproject.cache", "ERROR", "Exception ignored")] * 3
    assert all(r.exc_info for r in ours)


def test_log_ignored_exceptions_follows_django_redis_setting(settings: Any) -> None:
    settings.DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    cache = point_default_at(settings, "redis://127.0.0.1:1/0", OPTIONS={"IGNORE_EXCEPTIONS": True})
    assert cache._log_ignored_exceptions is True
    settings.DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = False
    assert point_default_at(settings, "redis://127.0.0.1:1/0")._log_ignored_exceptions is False


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_without_ignore_every_method_raises_cache_error(
    redis_factory: Any, settings: Any, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    group = redis_factory("standalone")
    cache = point_default_at(settings, group.url)
    api = Api(cache, mode == "async")
    group.primary.kill()
    for name, args, _, command in CALLS:
        with pytest.raises(CacheError) as info:
            await getattr(api, name)(*args)
        assert info.value.alias == "default", name
        assert info.value.command == command, name
        assert isinstance(info.value.__cause__, RedisConnectionError), name
        assert isinstance(info.value, RedisUnavailable)  # one type for the whole package
    with pytest.raises(CacheError):
        await api.get_or_set("k", lambda: 1, 60)
    assert len(_warnings(caplog)) == 1


# A call against a stalled (SIGSTOPped) server waits one socket timeout per attempt, and
# redis-py's backoff (capped at 0.2 s in connections.py) between attempts; the retry's
# reconnect itself is quick, as the kernel still accepts connections for a stopped process.
PAUSED_TIMEOUT = 0.3
PAUSED_EXPECTED = PAUSED_TIMEOUT * (connections.DEFAULT_RETRIES + 1) + 0.2 * connections.DEFAULT_RETRIES
# Slack of 3x the expected time (2 cores, other tests running), yet below what one call takes
# with the 2 s default socket timeout instead of the configured one (>= 4 s).
PAUSED_BOUND = PAUSED_EXPECTED + 3 * PAUSED_EXPECTED


def _timed(results: list[float], started: float) -> None:
    results.append(time.monotonic() - started)


async def test_a_paused_server_times_out_instead_of_hanging(redis_factory: Any, settings: Any) -> None:
    assert connections.DEFAULT_RETRIES == 1  # PAUSED_EXPECTED assumes the documented default
    timeouts = {"SOCKET_TIMEOUT": PAUSED_TIMEOUT, "SOCKET_CONNECT_TIMEOUT": PAUSED_TIMEOUT}
    group = redis_factory("standalone")
    cache = point_default_at(settings, group.url, OPTIONS={**timeouts, "IGNORE_EXCEPTIONS": True})
    cache.set("k", "v")
    assert await cache.aget("k") == "v"
    elapsed: list[float] = []
    group.primary.pause()
    try:
        with no_full_collections():
            started = time.monotonic()
            assert cache.get("k", "dflt") == "dflt"
            _timed(elapsed, started)
            started = time.monotonic()
            assert await cache.aget("k", "dflt") == "dflt"
            _timed(elapsed, started)
            started = time.monotonic()
            assert cache.set("k", "w") is False
            _timed(elapsed, started)
            settings.CACHES = {
                **settings.CACHES,
                "strict": {**settings.CACHES["default"], "OPTIONS": timeouts},
            }
            started = time.monotonic()
            with pytest.raises(CacheError) as info:
                caches["strict"].get("k")
            _timed(elapsed, started)
            # "strict" is the same server: its circuit is the one the first timeout opened.
            assert isinstance(info.value.__cause__, CircuitOpen)
    finally:
        group.primary.resume()
    # Each call gave up within its bound: it neither hung nor waited a default timeout.
    assert all(t < PAUSED_BOUND for t in elapsed), (elapsed, PAUSED_BOUND)
    # The first did wait for the socket timeout (the server was really stalled, not refusing);
    # the circuit breaker then made the others fail at once, without waiting again.
    assert elapsed[0] >= PAUSED_TIMEOUT * 0.9, elapsed
    assert all(t < PAUSED_TIMEOUT / 2 for t in elapsed[1:]), elapsed
    time.sleep(connections.spec_for_alias("default").breaker_cooldown)  # the circuit's cool-down
    assert cache.get("k") == "v"


def _serve_through(cache: Any, deadline: float) -> tuple[bool, list[BaseException]]:
    """Write and read until both work (True) or ``deadline``; returns the errors seen."""
    errors: list[BaseException] = []
    i = 0
    while time.monotonic() < deadline:
        i += 1
        try:
            cache.set("probe", i)
            if cache.get("probe") == i:
                return True, errors
        except CacheError as exc:
            errors.append(exc)
        time.sleep(0.1)
    return False, errors


def _no_readonly(errors: list[BaseException]) -> None:
    for exc in errors:
        cause = exc.__cause__
        while cause is not None:
            assert not isinstance(cause, ReadOnlyError), f"ReadOnlyError leaked: {exc!r}"
            cause = cause.__cause__


@pytest.mark.slow
def test_sentinel_primary_killed_cache_serves_again_within_15s(redis_factory: Any, settings: Any) -> None:
    group = redis_factory("sentinel")
    cache = point_default_at(settings, group.url)
    cache.set("k", "v")
    old = group.current_primary()
    old.kill()
    served, errors = _serve_through(cache, time.monotonic() + 15)
    assert served, f"not serving 15 s after the primary died; errors: {errors[-3:]}"
    assert group.current_primary() is not old
    assert all(isinstance(e, CacheError) for e in errors)
    _no_readonly(errors)


@pytest.mark.slow
def test_sentinel_forced_failover_never_leaks_readonly(redis_factory: Any, settings: Any) -> None:
    group = redis_factory("sentinel")
    cache = point_default_at(settings, group.url)
    cache.set("k", "v")
    old = group.current_primary()
    with group.sentinels[0].client() as sentinel:
        sentinel.execute_command("SENTINEL FAILOVER", group.service)
    errors: list[BaseException] = []
    deadline = time.monotonic() + 15
    # Keep writing while the old primary is demoted to a replica under our pooled connections.
    while time.monotonic() < deadline and group.current_primary() is old:
        try:
            cache.set("during", 1)
        except CacheError as exc:
            errors.append(exc)
        time.sleep(0.05)
    served, more = _serve_through(cache, deadline)
    errors += more
    assert served, f"not serving 15 s after the failover; errors: {errors[-3:]}"
    _no_readonly(errors)
    assert cache.get("k") == "v"  # the data replicated before the failover is still there


@pytest.mark.slow
async def test_sentinel_failover_async(redis_factory: Any, settings: Any) -> None:
    group = redis_factory("sentinel")
    cache = point_default_at(settings, group.url)
    await cache.aset("k", "v")
    group.current_primary().kill()
    deadline = time.monotonic() + 15
    errors: list[BaseException] = []
    while time.monotonic() < deadline:
        try:
            await cache.aset("probe", 1)
            if await cache.aget("probe") == 1:
                break
        except CacheError as exc:
            errors.append(exc)
        await asyncio.sleep(0.1)
    else:
        pytest.fail(f"not serving 15 s after the primary died; errors: {errors[-3:]}")
    _no_readonly(errors)


@pytest.mark.slow
async def test_cluster_down_is_covered_too(redis_factory: Any, settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    group = redis_factory("cluster")
    from tests.cache.conftest import settle_cluster

    settle_cluster(group)
    cache = point_default_at(settings, group.url, OPTIONS={"IGNORE_EXCEPTIONS": True, "SOCKET_TIMEOUT": 0.5})
    cache.set("k", "v")
    assert await cache.aget("k") == "v"
    for server in group.servers:
        server.kill()
    assert cache.get("k", "dflt") == "dflt"
    assert await cache.aget("k", "dflt") == "dflt"
    assert cache.set("k", 1) is False
    assert cache.get_many(["a", "b"]) == {}
    assert await cache.aset_many({"a": 1}) == ["a"]
    assert cache.delete_pattern("*") == 0
    assert len(_warnings(caplog)) == 1
    settings.CACHES = {**settings.CACHES, "strict": {**settings.CACHES["default"], "OPTIONS": {"SOCKET_TIMEOUT": 0.5}}}
    with pytest.raises(CacheError):
        caches["strict"].get("k")
