"""MIN_REPLICAS: WAIT after writes; a Sentinel failover loses no acknowledged session."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from django_redis_patterns import get_redis
from django_redis_patterns.sessions import SessionNotReplicated, SessionUnavailable
from django_redis_patterns.sessions.backend import SessionStore
from tests.sessions.conftest import command_counts, point_default_at, reset_command_counts


@pytest.mark.parametrize("topology", ("standalone+replica", "sentinel", "cluster"), indirect=False)
def test_each_write_waits_for_the_replicas(
    topology: str, request: pytest.FixtureRequest, redis_factory: Any, settings: Any, sessions_setting: Any
) -> None:
    if topology == "standalone+replica":
        group = redis_factory("standalone", replicas=1)
        point_default_at(settings, group.location)
    else:
        group = request.getfixturevalue({"sentinel": "sentinel_group", "cluster": "cluster"}[topology])
        point_default_at(settings, group.location)
        from django_redis_patterns.testing import servers

        servers.flush(group)
    sessions_setting(MIN_REPLICAS=1, MIN_REPLICAS_TIMEOUT=1.5, ON_REPLICATION_TIMEOUT="raise")
    reset_command_counts(group)
    s = SessionStore()
    s["a"] = 1
    s.save()  # create
    s2 = SessionStore(s.session_key)
    s2["a"] = 2
    s2.save()  # update
    s2.delete()
    counts = command_counts(group)
    assert counts.get("wait") == 3
    # Acknowledged writes are on a replica.
    assert SessionStore(s.session_key).get("a") is None


def test_unacknowledged_write_logs_by_default(
    redis_factory: Any, settings: Any, sessions_setting: Any, caplog: pytest.LogCaptureFixture
) -> None:
    lonely = redis_factory("standalone")  # no replica: WAIT 1 can never be satisfied
    point_default_at(settings, lonely.url)
    sessions_setting(MIN_REPLICAS=1, MIN_REPLICAS_TIMEOUT=0.05)
    with caplog.at_level(logging.WARNING, logger="django_redis_patterns.sessions"):
        s = SessionStore()
        s["a"] = 1
        s.save()
    assert SessionStore(s.session_key)["a"] == 1  # the request went through
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "acknowledged by 0 of 1 replica" in warnings[0]


def test_unacknowledged_write_raises_when_asked(redis_factory: Any, settings: Any, sessions_setting: Any) -> None:
    lonely = redis_factory("standalone")
    point_default_at(settings, lonely.url)
    sessions_setting(MIN_REPLICAS=1, MIN_REPLICAS_TIMEOUT=0.05, ON_REPLICATION_TIMEOUT="raise")
    s = SessionStore()
    with pytest.raises(SessionNotReplicated) as info:
        s.save()
    assert (info.value.acknowledged, info.value.wanted) == (0, 1)


async def test_async_writes_wait_too(redis_factory: Any, settings: Any, sessions_setting: Any) -> None:
    lonely = redis_factory("standalone")
    point_default_at(settings, lonely.url)
    sessions_setting(MIN_REPLICAS=1, MIN_REPLICAS_TIMEOUT=0.05, ON_REPLICATION_TIMEOUT="raise")
    with pytest.raises(SessionNotReplicated):
        await SessionStore().asave()


def test_sentinel_failover_loses_no_acknowledged_session(
    redis_factory: Any, settings: Any, sessions_setting: Any, caplog: pytest.LogCaptureFixture
) -> None:
    group = redis_factory("sentinel", replicas=1, sentinels=3, down_after_ms=1000)
    point_default_at(settings, group.url)
    # "log" (the default): after the failover the new primary has no replica left, and the
    # site must keep working; before it, every write is checked to have been acknowledged.
    sessions_setting(MIN_REPLICAS=1, MIN_REPLICAS_TIMEOUT=1.0)
    written: dict[str, int] = {}
    with caplog.at_level(logging.WARNING, logger="django_redis_patterns.sessions"):
        for i in range(1000):
            s = SessionStore()
            s["n"] = i
            s.save()
            written[s.session_key] = i  # type: ignore[index]
    assert len(written) == 1000
    assert [r.getMessage() for r in caplog.records] == []  # all 1000 acknowledged by the replica

    old_primary = group.current_primary()
    old_primary.kill()  # SIGKILL: no shutdown, no final sync

    deadline = time.monotonic() + 15
    new_write: SessionStore | None = None
    while time.monotonic() < deadline:
        try:
            s = SessionStore()
            s["after"] = True
            s.save()
            new_write = s
            break
        except SessionUnavailable:
            time.sleep(0.2)
    assert new_write is not None, "no write succeeded within 15 s of the primary's crash"
    assert group.current_primary() is not old_primary

    lost = [k for k, n in written.items() if SessionStore(k).get("n") != n]
    assert lost == []
    assert SessionStore(new_write.session_key)["after"] is True
    assert get_redis("default").dbsize() == 1001
