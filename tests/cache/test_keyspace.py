"""clear() deletes exactly the cache's keyspace: the other patterns sharing the alias and its
KEY_PREFIX (sessions, user indexes, locks, rate-limit counters, leaderboards) survive it."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import caches
from django.core.checks import run_checks

from django_redis_patterns import get_redis
from django_redis_patterns.exceptions import ImproperlyConfigured
from django_redis_patterns.leaderboard import Leaderboard
from django_redis_patterns.locks import lock
from django_redis_patterns.ratelimit import Limiter
from django_redis_patterns.sessions.backend import SessionStore
from tests.cache.conftest import Api
from tests.topologies import standalone_and_cluster


def _all_keys(topology: Any) -> set[bytes]:
    found: set[bytes] = set()
    for client in topology.group.data_clients():
        with client:
            found.update(client.scan_iter(count=1000))
    return found


@pytest.fixture
def shared_alias(settings: Any, topology: Any) -> None:
    """The arcade's layout: one alias, KEY_PREFIX "arcade", sessions on it; every other
    pattern told to put its keys under the same prefix too."""
    settings.CACHES = {**settings.CACHES, "default": {**topology.cache_config(), "KEY_PREFIX": "arcade"}}
    settings.SESSION_ENGINE = "django_redis_patterns.sessions.backend"
    settings.SESSION_CACHE_ALIAS = "default"
    settings.REDIS_PATTERNS = {
        "LOCKS": {"KEY_PREFIX": "arcade:lock:"},
        "RATELIMIT": {"KEY_PREFIX": "arcade"},
        "LEADERBOARD": {"KEY_PREFIX": "arcade"},
    }


@standalone_and_cluster
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_clear_keeps_every_other_pattern_on_the_same_alias_and_prefix(
    shared_alias: None, topology: Any, mode: str
) -> None:
    cache = caches["default"]
    api = Api(cache, mode == "async")
    sessions = []
    for i in range(20):  # logged in: each is also in its user's index
        s = SessionStore()
        s["_auth_user_id"] = str(i % 3 + 1)
        s["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        s["cart"] = [i]
        s.save()
        sessions.append(s.session_key)
    report = lock("nightly-report", ttl=60, blocking=False)
    held = report.__enter__()
    limiter = Limiter("fixed_window")
    for _ in range(3):
        limiter.hit("user:ada", "10/m")
    board = Leaderboard("arcade-high-scores")
    board.set_score("ada", 10)
    board.set_score("bob", 7)
    others = _all_keys(topology)
    assert any(k.startswith(b"arcade:session:") for k in others)
    assert any(k.startswith(b"arcade:lock:") for k in others)
    assert any(k.startswith(b"arcade:{") for k in others)  # rate limits and the board

    await api.set_many({f"k{i}": i for i in range(300)}, 60)  # every Cluster node
    await api.set("v2", "x", version=2)
    await api.set("v-neg", "x", version=-3)
    await api.set("session:looks-like-one", "x")  # a cache key that mimics a session's name
    assert await api.clear() is True

    assert _all_keys(topology) == others  # every cache key gone, nothing else touched
    for key in sessions:
        assert SessionStore(key)["cart"] is not None
    held.extend(60)  # raises LockLost if clear() took the lock
    assert held.held
    assert limiter.peek("user:ada", "10/m").remaining == 7
    assert board.score_of("ada") == 10 and board.rank_of("bob") == 2
    report.release()


@standalone_and_cluster
def test_patterns_cannot_be_configured_into_the_cache_keyspace(settings: Any, topology: Any) -> None:
    settings.CACHES = {**settings.CACHES, "default": {**topology.cache_config(), "KEY_PREFIX": "arcade"}}
    settings.SESSION_ENGINE = "django_redis_patterns.sessions.backend"
    settings.SESSION_CACHE_ALIAS = "default"
    settings.REDIS_PATTERNS = {
        "SESSIONS": {"KEY_PREFIX": "7:"},
        "LOCKS": {"KEY_PREFIX": "arcade:1:"},
        "RATELIMIT": {"KEY_PREFIX": "arcade:-2"},
        "LEADERBOARD": {"KEY_PREFIX": "arcade:lb"},  # fine: "lb" is no version
    }
    errors = [m for m in run_checks() if m.id == "redis_patterns.E052"]
    assert sorted(m.msg.split(" makes")[0] for m in errors) == [
        'REDIS_PATTERNS["LOCKS"]["KEY_PREFIX"]',
        'REDIS_PATTERNS["RATELIMIT"]["KEY_PREFIX"]',
        'REDIS_PATTERNS["SESSIONS"]["KEY_PREFIX"]',
    ]
    with pytest.raises(ImproperlyConfigured, match=r"KEY_PREFIX.*keyspace of cache 'default'"):
        SessionStore().save()
    assert get_redis().dbsize() == 0
