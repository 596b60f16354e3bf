"""Each pattern once, on standalone and on Cluster: the module the version matrix (noxfile.py)
runs on every redis-py, Django and Python it covers, beside ``tests/core``.

Each test is a user's first use of its pattern, with the outcome a user would check.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from django_redis_patterns.leaderboard import LeaderboardMixin
from django_redis_patterns.locks import LockNotAcquired, lock
from django_redis_patterns.ratelimit import Limiter, ratelimit
from django_redis_patterns.sessions.backend import SessionStore
from tests.leaderboard_app.models import Runner
from tests.topologies import standalone_and_cluster


@standalone_and_cluster
def test_cache(topology: Any) -> None:
    cache = caches.create_connection("default")
    cache.set("smoke:a", {"n": 1}, timeout=60)
    assert cache.get("smoke:a") == {"n": 1}
    assert cache.get_or_set("smoke:b", lambda: "built", timeout=60) == "built"
    assert cache.get_or_set("smoke:b", lambda: "rebuilt", timeout=60) == "built"
    assert cache.add("smoke:n", 0) is True
    assert cache.incr("smoke:n") == 1
    assert cache.get_many(["smoke:a", "smoke:b", "smoke:none"]) == {"smoke:a": {"n": 1}, "smoke:b": "built"}

    async def async_side() -> Any:
        await cache.aset("smoke:c", [1, 2])
        return await cache.aget("smoke:c")

    assert asyncio.run(async_side()) == [1, 2]
    cache.clear()
    assert cache.get("smoke:a") is None


@standalone_and_cluster
def test_sessions(topology: Any) -> None:
    store = SessionStore()
    store["cart"] = [1, 2, 3]
    store.save()
    key = store.session_key
    assert key is not None
    assert SessionStore(key)["cart"] == [1, 2, 3]
    store.delete()
    assert SessionStore(key).get("cart") is None


@standalone_and_cluster
def test_ratelimit(topology: Any) -> None:
    limiter = Limiter("sliding_window")
    assert [limiter.hit("smoke:rl", "5/m").allowed for _ in range(8)].count(True) == 5

    @ratelimit(key="ip", rate="2/m", block=False)
    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("limited" if getattr(request, "limited", False) else "ok")

    replies = [view(RequestFactory().get("/", REMOTE_ADDR="203.0.113.9")).content for _ in range(3)]
    assert replies == [b"ok", b"ok", b"limited"]


@standalone_and_cluster
def test_locks(topology: Any) -> None:
    with lock("smoke:job", ttl=10) as first:
        with pytest.raises(LockNotAcquired):
            with lock("smoke:job", ttl=10, blocking=False):
                pass
        token = first.fencing_token
    with lock("smoke:job", ttl=10, blocking=False) as second:
        assert second.fencing_token > token


@standalone_and_cluster
@pytest.mark.django_db(transaction=True)  # syncs run on commit, as in a project
def test_leaderboard(topology: Any) -> None:
    assert issubclass(Runner, LeaderboardMixin)
    for name, seconds in (("a", 12.5), ("b", 9.0), ("c", 12.5)):
        Runner.objects.create(name=name, seconds=seconds)  # each save updates the board
    # Lower is better, dense ranking: a tie shares a rank.
    assert {e.obj.name: e.rank for e in Runner.leaderboard.top(3)} == {"b": 1, "a": 2, "c": 2}
    slowest = Runner.objects.get(name="a")
    slowest.seconds = 8.0
    slowest.save()
    assert Runner.leaderboard.rank_of(slowest) == 1
