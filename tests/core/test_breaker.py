"""The circuit breaker: a hung Redis costs one socket timeout, then calls fail at once until a
probe after the cool-down finds it answering again (client/breaker.py).

Every test here really stops (SIGSTOP) or refuses a private redis-server. The bounds are the
ones a user notices: "a request answers within one socket timeout", "then within 50 ms".
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.test import AsyncClient, Client, override_settings

from django_redis_patterns import aget_redis, get_redis
from django_redis_patterns.client import connections
from django_redis_patterns.client.breaker import CircuitOpen, verdict
from django_redis_patterns.exceptions import ImproperlyConfigured
from django_redis_patterns.sessions.errors import SessionUnavailable, incidents
from django_redis_patterns.sessions.index import auser_sessions, user_sessions
from tests.gcpause import no_full_collections

OURS = "django_redis_patterns.cache.RedisCache"
TIMEOUT = 1.0  # SOCKET_TIMEOUT of the hung alias
COOLDOWN = 1.0  # CIRCUIT_BREAKER_COOLDOWN of the hung alias
# "Within one socket timeout": the first call gives up after one timeout; the margin covers a
# loaded 2-core machine, and stays below the two timeouts a retried call would take.
ONE_TIMEOUT = TIMEOUT + 0.6
FAST = 0.05  # "at once": the open circuit answers without I/O


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def assert_fails_fast(took: list[float]) -> None:
    """Requests with the circuit open wait for no socket: the median is held to FAST, and every
    request to half a socket timeout (a call that waited for the server would take a whole one).

    Why not every request under FAST: in two full-suite runs on a machine busy with other suites
    the first async request after the circuit opened took 206 ms and 278 ms, the later ones
    4-5 ms; it never reproduced alone or after the same earlier tests (0-7 ms). The likeliest
    cause is a full collection of the test process's large heap, which the measured requests
    now run without (tests/gcpause.py); this bound keeps the claim that nothing waits for the
    hung server.
    """
    ms = [f"{t * 1000:.0f} ms" for t in took]
    assert sorted(took)[len(took) // 2] < FAST, f"requests with the circuit open took {ms}"
    assert max(took) < TIMEOUT / 2, f"requests with the circuit open took {ms}"


async def atimed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = await call()
    return result, time.monotonic() - started


def raises(exc: type[BaseException], call: Callable[[], Any]) -> tuple[BaseException, float]:
    started = time.monotonic()
    with pytest.raises(exc) as info:
        call()
    return info.value, time.monotonic() - started


@pytest.fixture
def hung(redis_factory: Any, settings: Any) -> Iterator[Any]:
    """A private server behind "default" (cache, sessions, rate limits all use it), with a 1 s
    socket timeout and a 1 s cool-down; the test pauses it; resumed at teardown whatever happens."""
    group = redis_factory("standalone")
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": OURS,
            "LOCATION": group.url,
            "OPTIONS": {"SOCKET_TIMEOUT": TIMEOUT, "CIRCUIT_BREAKER_COOLDOWN": COOLDOWN, "IGNORE_EXCEPTIONS": True},
        },
    }
    settings.SESSION_ENGINE = "django_redis_patterns.sessions.backend"
    settings.SESSION_CACHE_ALIAS = "default"
    settings.MIDDLEWARE = ["django_redis_patterns.sessions.middleware.SessionMiddleware"]
    settings.ROOT_URLCONF = "tests.core.breaker_site"
    settings.REDIS_PATTERNS = {"SESSIONS": {"ON_ERROR": "anonymous"}, "RATELIMIT": {"FAIL_OPEN": True}}
    connections.reset()
    incidents.reset()
    try:
        yield group
    finally:
        group.primary.resume()
        incidents.reset()


def breaker() -> Any:
    return connections.breaker_for(connections.spec_for_alias("default"))


# -- a Django request ----------------------------------------------------------------------


def test_a_request_on_a_hung_server_answers_within_one_socket_timeout_then_at_once(hung: Any) -> None:
    client = Client()
    response = client.get("/page/")  # pooled connections exist before the pause, as in production
    assert response.json() == {"visits": 1, "banner": "no banner"}
    hung.primary.pause()
    # Session read, rate-limit script, cache read: without the breaker each waits its timeouts.
    response, took = timed(lambda: client.get("/page/"))
    assert response.status_code == 200 and response.json() == {"visits": 1, "banner": "no banner"}  # fail open
    assert took < ONE_TIMEOUT, f"the first request on a hung server took {took:.2f}s"
    open_took = []
    with no_full_collections():
        for _ in range(5):
            response, took = timed(lambda: client.get("/page/"))
            assert response.status_code == 200
            open_took.append(took)
    assert_fails_fast(open_took)
    hung.primary.resume()
    time.sleep(COOLDOWN)
    # No restart: the first call after the cool-down probes, succeeds and closes the circuit.
    response = client.get("/page/")
    assert response.json() == {"visits": 2, "banner": "no banner"}  # the stored session is back
    assert not breaker().open


async def test_an_async_request_on_a_hung_server_answers_within_one_socket_timeout_then_at_once(hung: Any) -> None:
    client = AsyncClient()
    response = await client.get("/apage/")
    assert response.json() == {"visits": 1, "banner": "no banner"}
    hung.primary.pause()
    response, took = await atimed(lambda: client.get("/apage/"))
    assert response.status_code == 200 and response.json() == {"visits": 1, "banner": "no banner"}
    assert took < ONE_TIMEOUT, f"the first request on a hung server took {took:.2f}s"
    open_took = []
    with no_full_collections():
        for _ in range(5):
            response, took = await atimed(lambda: client.get("/apage/"))
            assert response.status_code == 200
            open_took.append(took)
    assert_fails_fast(open_took)
    hung.primary.resume()
    await asyncio.sleep(COOLDOWN)
    response = await client.get("/apage/")
    assert response.json() == {"visits": 2, "banner": "no banner"}
    assert not breaker().open


# -- the breaker itself ----------------------------------------------------------------------


def test_the_open_circuit_names_the_alias_and_the_seconds_left(hung: Any) -> None:
    get_redis().set("k", "v")
    hung.primary.pause()
    error, took = raises(redis.TimeoutError, lambda: get_redis().get("k"))
    assert took < ONE_TIMEOUT  # one socket timeout: a timed-out command is not retried
    error, took = raises(CircuitOpen, lambda: get_redis().get("k"))
    assert took < FAST
    assert isinstance(error, redis.ConnectionError)  # what every pattern already handles
    assert error.alias == "'default'" and 0 < error.seconds_left <= COOLDOWN
    assert "Redis alias 'default' is failing fast" in str(error) and "TimeoutError" in str(error)
    assert "probes it" in str(error)
    # A pipeline, a script, and the asyncio client of another event loop share the circuit.
    _, took = raises(CircuitOpen, lambda: get_redis().pipeline().get("k").execute())
    assert took < FAST

    async def async_call() -> None:
        await (await aget_redis()).get("k")

    _, took = raises(CircuitOpen, lambda: asyncio.run(async_call()))
    assert took < FAST


def test_exactly_one_caller_probes_and_the_others_keep_failing_fast(hung: Any) -> None:
    get_redis().ping()
    hung.primary.pause()
    raises(redis.TimeoutError, lambda: get_redis().get("k"))
    time.sleep(COOLDOWN)
    threads = 8
    barrier = threading.Barrier(threads)

    def call(_: int) -> tuple[str, float]:
        barrier.wait()
        started = time.monotonic()
        try:
            get_redis().get("k")
        except CircuitOpen:
            return "fast", time.monotonic() - started
        except redis.TimeoutError:
            return "probe", time.monotonic() - started
        return "answered", time.monotonic() - started

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        outcomes = list(pool.map(call, range(threads)))
    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["fast"] * (threads - 1) + ["probe"], outcomes
    assert all(took < FAST for kind, took in outcomes if kind == "fast"), outcomes
    # The probe failed: open again for a whole cool-down.
    error, _ = raises(CircuitOpen, lambda: get_redis().get("k"))
    assert error.seconds_left > COOLDOWN * 0.8  # type: ignore[attr-defined]
    hung.primary.resume()
    time.sleep(COOLDOWN)
    assert get_redis().get("k") is None
    assert not breaker().open


async def test_async_probe_is_one_task_and_recovery_needs_no_restart(hung: Any) -> None:
    client = await aget_redis()
    await client.ping()
    hung.primary.pause()
    with pytest.raises(redis.TimeoutError):
        await client.get("k")
    _, took = await atimed(lambda: _expect(CircuitOpen, client.get("k")))
    assert took < FAST
    await asyncio.sleep(COOLDOWN)
    outcomes = await asyncio.gather(*(client.get("k") for _ in range(6)), return_exceptions=True)
    kinds = sorted(type(o).__name__ for o in outcomes)
    assert kinds == ["CircuitOpen"] * 5 + ["TimeoutError"], outcomes
    hung.primary.resume()
    await asyncio.sleep(COOLDOWN)
    assert await client.set("k", "back") is True
    assert get_redis().get("k") == b"back"  # the sync client's circuit closed with it


async def test_a_cancelled_probe_lets_the_next_caller_probe(hung: Any) -> None:
    client = await aget_redis()
    await client.ping()
    hung.primary.pause()
    with pytest.raises(redis.TimeoutError):
        await client.get("k")
    await asyncio.sleep(COOLDOWN)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await client.get("k")  # the probe, cancelled before the server could answer
    hung.primary.resume()
    assert await client.get("k") is None  # the next caller probed at once, and closed it


async def _expect(exc: type[BaseException], awaitable: Any) -> None:
    with pytest.raises(exc):
        await awaitable


def test_error_replies_never_open_the_circuit(hung: Any) -> None:
    client = get_redis()
    client.rpush("list", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        client.get("list")
    with pytest.raises(redis.exceptions.NoScriptError):
        client.evalsha("0" * 40, 0)
    with pytest.raises(redis.ResponseError):
        client.execute_command("NO-SUCH-COMMAND")
    with pytest.raises(redis.ResponseError):
        client.pipeline().get("list").execute()
    assert not breaker().open
    assert client.get("missing") is None


def test_sentinel_failover_replies_count_as_an_answer(sentinel_group: Any) -> None:
    # A replica's READONLY reply, and the ConnectionError redis-py's Sentinel primary
    # connection raises from it ("The previous master is now a slave": reconnect to the new
    # primary), prove the server answers: a failover must not open the circuit.
    replica = sentinel_group.replicas[0].client()
    with pytest.raises(redis.exceptions.ReadOnlyError) as info:
        replica.set("k", "v")
    assert verdict(info.value) == "up"
    try:
        try:
            raise info.value
        except redis.exceptions.ReadOnlyError:
            raise redis.ConnectionError("The previous master is now a slave")  # as redis.sentinel does
    except redis.ConnectionError as demoted:
        assert verdict(demoted) == "up"
    assert verdict(redis.TimeoutError("Timeout reading from socket")) == "down"
    assert verdict(redis.exceptions.MaxConnectionsError("Too many connections")) == "unknown"


def test_a_refused_connection_opens_the_circuit_after_the_retry(settings: Any) -> None:
    settings.CACHES = {**settings.CACHES, "default": {"BACKEND": OURS, "LOCATION": "redis://127.0.0.1:1/0"}}
    connections.reset()
    raises(redis.ConnectionError, lambda: get_redis().ping())
    error, took = raises(CircuitOpen, lambda: get_redis().ping())
    assert took < FAST
    assert "Redis alias 'default' is failing fast" in str(error) and "ConnectionError" in str(error), str(error)


def test_cooldown_zero_turns_the_breaker_off(redis_factory: Any, settings: Any) -> None:
    group = redis_factory("standalone")
    timeout = 0.3
    options = {"SOCKET_TIMEOUT": timeout, "CIRCUIT_BREAKER_COOLDOWN": 0}
    settings.CACHES = {**settings.CACHES, "default": {"BACKEND": OURS, "LOCATION": group.url, "OPTIONS": options}}
    connections.reset()
    get_redis().ping()
    group.primary.pause()
    try:
        for _ in range(3):  # every call waits its socket timeout(s) again: nothing fails fast
            _, took = raises(redis.TimeoutError, lambda: get_redis().get("k"))
            assert took >= timeout * 0.9, took
    finally:
        group.primary.resume()


@pytest.mark.parametrize("value", [-1, "2", True, float("nan"), None])
def test_a_bad_cooldown_is_a_clear_error(settings: Any, value: Any) -> None:
    alias = {"BACKEND": OURS, "LOCATION": "redis://127.0.0.1:1/0", "OPTIONS": {"CIRCUIT_BREAKER_COOLDOWN": value}}
    with override_settings(CACHES={"default": alias}):
        with pytest.raises(ImproperlyConfigured, match=r"OPTIONS\['CIRCUIT_BREAKER_COOLDOWN'\] must be a number"):
            get_redis()
    with override_settings(REDIS_PATTERNS={"CIRCUIT_BREAKER_COOLDOWN": value}):
        with pytest.raises(ImproperlyConfigured, match=r"REDIS_PATTERNS\['CIRCUIT_BREAKER_COOLDOWN'\] must be"):
            get_redis()


def test_the_project_wide_cooldown_applies_to_aliases_without_their_own(settings: Any) -> None:
    settings.REDIS_PATTERNS = {"CIRCUIT_BREAKER_COOLDOWN": 7}
    settings.CACHES = {
        "default": {"BACKEND": OURS, "LOCATION": "redis://127.0.0.1:1/0"},
        "own": {"BACKEND": OURS, "LOCATION": "redis://127.0.0.1:1/1", "OPTIONS": {"CIRCUIT_BREAKER_COOLDOWN": 3}},
    }
    assert connections.spec_for_alias("default").breaker_cooldown == 7.0
    assert connections.spec_for_alias("own").breaker_cooldown == 3.0
    settings.REDIS_PATTERNS = {}
    assert connections.spec_for_alias("default").breaker_cooldown == 2.0  # the default


# -- patterns that used to wait three timeouts ----------------------------------------------


def test_user_sessions_on_a_hung_server_fails_within_one_socket_timeout(hung: Any) -> None:
    settings_sessions = {"ON_ERROR": "raise"}
    with override_settings(REDIS_PATTERNS={"SESSIONS": settings_sessions}):
        assert user_sessions(42) == []
        hung.primary.pause()
        _, took = raises(SessionUnavailable, lambda: user_sessions(42))
        assert took < ONE_TIMEOUT, took
        _, took = raises(SessionUnavailable, lambda: user_sessions(42))
        assert took < FAST, took

        async def async_twin() -> None:
            await auser_sessions(42)

        _, took = raises(SessionUnavailable, lambda: asyncio.run(async_twin()))
        assert took < FAST, took


@pytest.mark.django_db(transaction=True)
def test_a_leaderboard_sync_on_a_hung_server_fails_within_one_socket_timeout(hung: Any) -> None:
    from tests.leaderboard_app.models import Player

    Player.objects.create(name="ann", score=1)  # synced: a pooled connection exists
    hung.primary.pause()
    bob, took = timed(lambda: Player.objects.create(name="bob", score=50))  # committed; its sync fails
    assert took < ONE_TIMEOUT, took
    _, took = timed(lambda: Player.objects.create(name="cat", score=7))
    assert took < 0.25, took  # a database insert, and a sync that fails at once
    assert Player.objects.count() == 3
    hung.primary.resume()
    time.sleep(COOLDOWN)
    Player.objects.create(name="dan", score=3)  # the next sync retries the rows it missed
    assert Player.leaderboard.rank_of(bob) == 1
    assert Player.leaderboard.count() == 4


# -- failover --------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_forced_sentinel_failover_never_opens_the_circuit(redis_factory: Any, settings: Any) -> None:
    # The old primary stays up and is demoted: its READONLY (which redis-py's Sentinel
    # connection turns into "reconnect to the new primary") is an answer, not an outage.
    group = redis_factory("sentinel")
    settings.CACHES = {**settings.CACHES, "default": {"BACKEND": OURS, "LOCATION": group.url}}
    connections.reset()
    client = get_redis()
    client.set("k", "v")
    old = group.current_primary()
    with group.sentinels[0].client() as sentinel:
        sentinel.execute_command("SENTINEL FAILOVER", group.service)
    errors: list[BaseException] = []
    opened = False
    deadline = time.monotonic() + 15
    served = False
    while time.monotonic() < deadline:
        try:
            client.set("during", 1)
            served = group.current_primary() is not old
        except redis.RedisError as exc:
            errors.append(exc)
        opened = opened or breaker().open
        if served:
            break
        time.sleep(0.05)
    assert served, f"not serving on the new primary 15 s after the failover; errors: {errors[-3:]}"
    assert not opened and not any(isinstance(e, CircuitOpen) for e in errors), errors
    assert client.get("k") == b"v"


@pytest.mark.slow
def test_a_hung_cluster_primary_opens_the_alias_circuit(redis_factory: Any, settings: Any) -> None:
    group = redis_factory("cluster")
    timeout = 0.5
    options = {"SOCKET_TIMEOUT": timeout, "SOCKET_CONNECT_TIMEOUT": timeout, "CIRCUIT_BREAKER_COOLDOWN": COOLDOWN}
    settings.CACHES = {**settings.CACHES, "default": {"BACKEND": OURS, "LOCATION": group.url, "OPTIONS": options}}
    connections.reset()
    client = get_redis()
    owners: dict[int, str] = {}
    for i in range(100):  # a key on each primary
        key = f"k{i}"
        client.set(key, "v")
        owners.setdefault(client.get_node_from_key(key).port, key)
    assert len(owners) == 3
    hung_port, hung_key = next(iter(owners.items()))
    hung_server = next(s for s in group.primaries if s.port == hung_port)
    hung_server.pause()
    try:
        # redis-py's Cluster client retries a timeout itself (after a slot-map refresh):
        # RETRIES + 1 timeouts, plus the refreshes, for the first call.
        _, took = raises(redis.RedisError, lambda: client.get(hung_key))
        assert took < (connections.DEFAULT_RETRIES + 1) * timeout + 1.5, took
        assert breaker().open
        healthy_key = next(k for p, k in owners.items() if p != hung_port)
        _, took = raises(CircuitOpen, lambda: client.get(healthy_key))  # the circuit is the alias's
        assert took < FAST
    finally:
        hung_server.resume()
    time.sleep(COOLDOWN)
    assert client.get(hung_key) == b"v"
    assert not breaker().open


@pytest.mark.parametrize("where", ["OPTIONS", "REDIS_PATTERNS"])
def test_manage_py_check_reports_a_bad_cooldown(settings: Any, where: str) -> None:
    from django.core.checks import run_checks

    alias: dict[str, Any] = {"BACKEND": OURS, "LOCATION": "redis://127.0.0.1:1/0"}
    if where == "OPTIONS":
        alias["OPTIONS"] = {"CIRCUIT_BREAKER_COOLDOWN": "soon"}
    else:
        settings.REDIS_PATTERNS = {"CIRCUIT_BREAKER_COOLDOWN": -2}
    settings.CACHES = {"default": alias}
    messages = [m.msg for m in run_checks() if m.id and m.id.startswith("redis_patterns.")]
    assert any("CIRCUIT_BREAKER_COOLDOWN" in m and "must be a number of seconds >= 0" in m for m in messages), messages


@pytest.mark.parametrize("lean", [True, False], ids=["lean", "redis-py"])
def test_a_dropped_client_is_freed_without_the_cycle_collector(hung: Any, settings: Any, lean: bool) -> None:
    import gc
    import weakref

    config = settings.CACHES["default"]
    settings.CACHES = {"default": {**config, "OPTIONS": {**config["OPTIONS"], "LEAN_CLIENT": lean}}}
    client = get_redis()
    assert hasattr(type(client), "_breaker_inline") is lean
    client.ping()
    assert client.pipeline().ping().execute() == [True]
    gone = weakref.ref(client)
    gc.disable()
    try:
        connections.reset()
        del client
        assert gone() is None  # freed by reference counting: its sockets close now
    finally:
        gc.enable()


def test_the_core_default_matches_the_client_layers() -> None:
    from django_redis_patterns import conf
    from django_redis_patterns.client.breaker import DEFAULT_COOLDOWN

    assert conf.CoreSettings().CIRCUIT_BREAKER_COOLDOWN == DEFAULT_COOLDOWN
