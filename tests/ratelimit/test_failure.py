"""Redis stopped: FAIL_OPEN decides, quickly, logged once per incident; recovery is logged too."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from django_redis_patterns.ratelimit import Limiter, Ratelimited
from tests.ratelimit.conftest import ratelimit_settings

pytestmark = pytest.mark.urls("tests.ratelimit.urls")
MIDDLEWARE = "django_redis_patterns.ratelimit.middleware.RatelimitMiddleware"


@pytest.fixture
def doomed(redis_factory: Any, settings: Any) -> Any:
    """A throw-away server behind the alias "rl", used by the limiter."""
    group = redis_factory("standalone")
    settings.CACHES = {
        **settings.CACHES,
        "rl": {"BACKEND": "django_redis_patterns.cache.RedisCache", "LOCATION": group.url},
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
