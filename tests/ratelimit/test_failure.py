"""Redis stopped: FAIL_OPEN decides, quickly, logged once per incident; recovery is logged too."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from django_redis_patterns.ratelimit import Limiter, Ratelimited
from tests.ratelimit.conftest import ratelimit_settings
from tests.topologies import SHORT_COOLDOWN, add_alias, after_cooldown

pytestmark = pytest.mark.urls("tests.ratelimit.urls")
MIDDLEWARE = "django_redis_patterns.ratelimit.middleware.RatelimitMiddleware"


@pytest.fixture
def doomed(redis_factory: Any, settings: Any) -> Any:
    """A throw-away server behind the alias "rl", used by the limiter."""
    group = redis_factory("standalone")
    settings.CACHES = {
        **settings.CACHES,
        "rl": {
            "BACKEND": "django_redis_patterns.cache.RedisCache",
            "LOCATION": group.url,
            "OPTIONS": {"CIRCUIT_BREAKER_COOLDOWN": SHORT_COOLDOWN},
        },
    }
    ratelimit_settings(settings, USING="rl")
    return group


def errors(caplog: Any) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "django_redis_patterns.ratelimit" and r.levelno >= logging.ERROR]


def test_fail_closed_by_default(doomed: Any, settings: Any, client: Any, caplog: Any) -> None:
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, MIDDLEWARE]
    ratelimit_settings(settings, RULES=[{"path": "/plain/", "rate": "100/d"}])
    assert client.get("/plain/").status_code == 200
    doomed.servers[0].kill()
    caplog.set_level(logging.WARNING, logger="django_redis_patterns.ratelimit")
    responses = [client.get("/plain/") for _ in range(3)]
    assert [r.status_code for r in responses] == [503] * 3
    assert all(r["Retry-After"] == "1" for r in responses)
    assert [client.get("/sync/").status_code for _ in range(2)] == [503, 503]  # decorated views too
    incident = errors(caplog)
    assert len(incident) == 1  # once per incident, not per request
    assert "'rl'" in incident[0].getMessage() and "EVALSHA" in incident[0].getMessage()

    doomed.servers[0].restart()
    after_cooldown()  # the alias failed fast for its cool-down; the next call finds it back
    assert client.get("/plain/").status_code == 200
    assert any("reachable again" in r.getMessage() for r in caplog.records)
    # a second outage is a new incident: logged again
    doomed.servers[0].kill()
    assert client.get("/plain/").status_code == 503
    assert len(errors(caplog)) == 2


def test_fail_closed_with_429(doomed: Any, settings: Any, client: Any) -> None:
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, MIDDLEWARE]
    ratelimit_settings(settings, RULES=[{"path": "/plain/", "rate": "100/d"}], UNAVAILABLE_STATUS=429)
    doomed.servers[0].kill()
    assert client.get("/plain/").status_code == 429


def test_fail_open(doomed: Any, settings: Any, client: Any, caplog: Any, rf: Any) -> None:
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, MIDDLEWARE]
    ratelimit_settings(settings, RULES=[{"path": "/plain/", "rate": "1/d"}], FAIL_OPEN=True)
    doomed.servers[0].kill()
    caplog.set_level(logging.WARNING, logger="django_redis_patterns.ratelimit")
    assert [client.get("/plain/").status_code for _ in range(5)] == [200] * 5
    assert [client.get("/sync/").status_code for _ in range(5)] == [200] * 5
    usage = Limiter().hit("k", "1/d")
    assert usage.allowed and usage.unavailable
    assert len(errors(caplog)) == 1


def test_limiter_fail_closed_usage(doomed: Any) -> None:
    doomed.servers[0].kill()
    for algorithm in ("gcra", "sliding_log"):
        usage = Limiter(algorithm).hit("k", "5/m;100/d")
        assert (usage.allowed, usage.unavailable, usage.retry_after) == (False, True, 1.0)
    assert Limiter().reset("k", "5/m").unavailable


async def test_async_paths_fail_by_policy(doomed: Any, settings: Any, rf: Any) -> None:
    from tests.ratelimit import views

    doomed.servers[0].kill()
    usage = await Limiter().ahit("k", "5/m")
    assert (usage.allowed, usage.unavailable) == (False, True)
    request = rf.get("/", REMOTE_ADDR="192.0.2.1")
    with pytest.raises(Ratelimited) as info:
        await views.async_view(request)
    assert info.value.usage.unavailable
    ratelimit_settings(settings, FAIL_OPEN=True)
    assert (await views.async_view(rf.get("/", REMOTE_ADDR="192.0.2.1"))).status_code == 200


# A paused (SIGSTOPped) server accepts connections but never answers: every attempt waits
# out the socket timeout. On a pooled connection a call gives up after SOCKET_TIMEOUT x
# (RETRIES + 1) plus redis-py's back-off between attempts (at most 0.2 s, connections.py).
# A client's first connection (asyncio.run: a new loop, so a new async client) is the same:
# its handshake is tried RETRIES + 1 times. The bound below is more than twice that: it
# proves "no hang".
PAUSED_SOCKET_TIMEOUT = 0.3
PAUSED_RETRIES = 1
PAUSED_WORST = PAUSED_SOCKET_TIMEOUT * (PAUSED_RETRIES + 1) + 0.2 * (PAUSED_RETRIES + 1)
PAUSED_BOUND = 2 * PAUSED_WORST + 1.5  # generous: 2 cores, other tests running alongside


@pytest.fixture
def paused(redis_factory: Any, settings: Any) -> Iterator[Any]:
    """A private server behind the alias "rl" with a short socket timeout, SIGSTOPped by the
    test through ``paused.primary.pause()``; resumed (SIGCONT) at teardown whatever happens."""
    group = redis_factory("standalone")
    add_alias(
        settings,
        "rl",
        group,
        SOCKET_TIMEOUT=PAUSED_SOCKET_TIMEOUT,
        RETRIES=PAUSED_RETRIES,
        CIRCUIT_BREAKER_COOLDOWN=SHORT_COOLDOWN,
    )
    ratelimit_settings(settings, USING="rl")
    try:
        yield group
    finally:
        group.primary.resume()


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


@pytest.mark.parametrize("fail_open", [True, False], ids=["open", "closed"])
def test_a_paused_server_fails_by_policy_within_the_socket_timeout(
    paused: Any, settings: Any, client: Any, caplog: Any, fail_open: bool
) -> None:
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, MIDDLEWARE]
    ratelimit_settings(settings, RULES=[{"path": "/plain/", "rate": "100/d"}], FAIL_OPEN=fail_open)
    # pooled connections (sync and async) exist before the pause: the usual case in production
    assert client.get("/plain/").status_code == 200
    assert Limiter().hit("k", "100/d").allowed
    assert asyncio.run(Limiter().ahit("k", "100/d")).allowed
    caplog.set_level(logging.WARNING, logger="django_redis_patterns.ratelimit")

    paused.primary.pause()
    try:
        response, took = timed(lambda: client.get("/plain/"))  # middleware rule
        assert response.status_code == (200 if fail_open else 503), took
        assert took < PAUSED_BOUND
        response, took = timed(lambda: client.get("/sync/"))  # decorated view
        assert response.status_code == (200 if fail_open else 503), took
        assert took < PAUSED_BOUND
        for name, call in (
            ("hit", lambda: Limiter("sliding_log").hit("k", "5/m;100/d")),
            ("ahit", lambda: asyncio.run(Limiter("sliding_log").ahit("k", "5/m;100/d"))),
        ):
            usage, took = timed(call)
            assert (usage.allowed, usage.unavailable) == (fail_open, True), name
            assert took < PAUSED_BOUND, name
        incident = errors(caplog)
        assert len(incident) == 1  # once per incident
        assert "Timeout" in incident[0].getMessage() or "timed out" in incident[0].getMessage().lower()
    finally:
        paused.primary.resume()
    after_cooldown()
    usage = Limiter().hit("after", "100/d")
    assert (usage.allowed, usage.unavailable) == (True, False)
