"""Pattern events: what each pattern reports, exactly once per decision."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from django.core.cache import cache

from django_redis_patterns.cache.stampede import LOCK_SUFFIX
from django_redis_patterns.client.instrument import listening
from django_redis_patterns.leaderboard import Leaderboard
from django_redis_patterns.leaderboard.rebuild import check, rebuild
from django_redis_patterns.locks import lock
from django_redis_patterns.ratelimit.core import Limiter
from django_redis_patterns.sessions.backend import SessionStore
from tests.topologies import standalone_and_cluster

from .recorder import Recorder


@standalone_and_cluster
def test_cache_reports_hits_and_misses_by_alias_and_prefix(topology: Any) -> None:
    cache.set("a", 1)
    with listening(Recorder()) as rec:
        cache.get("a")
        cache.get("nope")
        cache.get_many(["a", "b", "c"])
        asyncio.run(cache.aget("a"))
        cache.get_or_set("g", 1)  # a constant default: Django's plain way, a miss then a hit
        cache.get_or_set("g", 1)
    hits = sum(e.data["count"] for e in rec.of("cache", "hit"))
    misses = sum(e.data["count"] for e in rec.of("cache", "miss"))
    assert (hits, misses) == (4, 4)
    assert {(e.alias, e.data["prefix"]) for e in rec.events} == {("default", "")}
    # The commands inside carry the cache's pattern and operation.
    assert [(c.command, c.pattern, c.operation) for c in rec.commands if not c.is_async][:2] == [
        ("GET", "cache", "get"),
        ("GET", "cache", "get"),
    ]


def test_stampede_lock_reports_recompute_and_wait(topology: Any, settings: Any) -> None:
    import threading

    default = dict(settings.CACHES["default"])
    default["OPTIONS"] = {**default.get("OPTIONS", {}), "STAMPEDE": "lock"}
    settings.CACHES = {**settings.CACHES, "default": default}
    from django.core.cache import caches

    caches._settings = None  # type: ignore[attr-defined]
    for conn in caches.all(initialized_only=True):
        conn.close()
    own = caches.create_connection("default")
    rec = Recorder()

    def lock_attempts() -> int:
        return sum(1 for c in rec.commands if c.command == "SET" and (c.key or "").endswith(LOCK_SUFFIX))

    def slow() -> str:
        # Hold the recompute until the second caller has tried the lock (and so waits for us).
        deadline = time.monotonic() + 5
        while lock_attempts() < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        return "v"

    with listening(rec):
        first = threading.Thread(target=lambda: own.get_or_set("k", slow, timeout=60))
        first.start()
        while lock_attempts() < 1:
            time.sleep(0.01)
        assert own.get_or_set("k", slow, timeout=60) == "v"
        first.join()
    assert lock_attempts() == 2
    assert [e.data["locked"] for e in rec.of("cache", "recompute")] == [True]
    waits = rec.of("cache", "stampede_wait")
    assert len(waits) == 1 and waits[0].data["found"] is True


@standalone_and_cluster
def test_ratelimit_reports_every_decision_with_its_group(topology: Any) -> None:
    limiter = Limiter("gcra")
    with listening(Recorder()) as rec:
        results = [limiter.hit("grp\x00client", "3/m").allowed for _ in range(5)]
        limiter.peek("grp\x00client", "3/m")
    assert results == [True, True, True, False, False]
    decisions = rec.of("ratelimit", "decision")
    assert [(e.data["allowed"], e.data["counted"]) for e in decisions] == [
        (True, True),
        (True, True),
        (True, True),
        (False, True),
        (False, True),
        (False, False),
    ]
    assert {(e.data["group"], e.data["algorithm"]) for e in decisions} == {("grp", "gcra")}
    assert [e.data["remaining"] for e in decisions[:3]] == [2, 1, 0]
    assert all(c.pattern == "ratelimit" and c.operation == "check" for c in rec.commands)


@standalone_and_cluster
def test_locks_report_acquire_wait_release_and_hold(topology: Any) -> None:
    with listening(Recorder()) as rec:
        with lock("obs:job", ttl=5):
            pass
        with lock("obs:job", ttl=5, blocking=False) as held:
            assert held is not None
    acquires = rec.of("locks", "acquire")
    assert [(e.data["name"], e.data["acquired"]) for e in acquires] == [("obs:job", True)] * 2
    assert all(e.data["wait"] >= 0 for e in acquires)
    releases = rec.of("locks", "release")
    assert len(releases) == 2 and all(e.data["held"] >= 0 for e in releases)
    assert {c.pattern for c in rec.commands} == {"locks"}


def test_a_lost_lock_is_reported_once(topology: Any) -> None:
    from django_redis_patterns import get_redis
    from django_redis_patterns.locks import LockLost

    with listening(Recorder()) as rec, pytest.raises(LockLost):
        with lock("obs:lost", ttl=5, renew=False):
            for key in get_redis().scan_iter("*obs:lost*"):
                get_redis().delete(key)
    assert [e.data["name"] for e in rec.of("locks", "lost")] == ["obs:lost"]


def test_sessions_report_load_save_delete_and_revoke(topology: Any, settings: Any) -> None:
    settings.SESSION_ENGINE = "django_redis_patterns.sessions.backend"
    with listening(Recorder()) as rec:
        store = SessionStore()
        store["x"] = 1
        store.save()
        again = SessionStore(store.session_key)
        assert again["x"] == 1
        again.delete()
    names = [e.name for e in rec.of("sessions")]
    assert names == ["save", "load", "delete"]
    assert rec.of("sessions", "load")[0].data["found"] is True


@standalone_and_cluster
def test_boards_report_syncs_reads_rebuilds_and_drift(topology: Any) -> None:
    board = Leaderboard("obs")
    with listening(Recorder()) as rec:
        rebuild(board, [("a", 3, None), ("b", 2, None)])
        board.set_score("c", 1)
        assert [e.member for e in board.top(10)] == ["a", "b", "c"]
        drift = check(board, [("a", 3, None), ("b", 2, None)])
    assert drift.extra == 1
    (rebuilt,) = rec.of("leaderboard", "rebuild")
    assert (rebuilt.data["board"], rebuilt.data["members"], rebuilt.data["healed"]) == ("obs", 2, False)
    assert [e.data["operation"] for e in rec.of("leaderboard", "sync")] == ["set"]
    (read,) = rec.of("leaderboard", "read")
    assert (read.data["operation"], read.data["size"]) == ("range", 3)
    (drifted,) = rec.of("leaderboard", "drift")
    assert (drifted.data["extra"], drifted.data["missing"]) == (1, 0)


def test_a_session_read_with_redis_down_is_reported_as_an_error(redis_factory: Any, settings: Any) -> None:
    from tests.sessions.conftest import point_default_at

    group = redis_factory("standalone")
    point_default_at(settings, group.url)
    settings.REDIS_PATTERNS = {
        **(getattr(settings, "REDIS_PATTERNS", None) or {}),
        "SESSIONS": {"ON_ERROR": "anonymous"},
    }
    store = SessionStore()
    store["x"] = 1
    store.save()
    group.primary.stop()
    with listening(Recorder()) as rec:
        assert SessionStore(store.session_key).load() == {}  # anonymous: an empty session
    assert [(e.name, e.data) for e in rec.of("sessions")] == [
        ("error", {"on_error": "anonymous"}),
        ("load", {"found": False}),
    ]
    assert rec.commands and all(c.error is not None for c in rec.commands)
