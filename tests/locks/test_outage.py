"""A lock's Redis going away while the lock is held (the server is really killed)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from django_redis_patterns.locks import LockLost, LockUnavailable, lock, lock_lost


@pytest.fixture
def doomed(redis_factory: Any, settings: Any) -> Any:
    group = redis_factory("standalone")
    settings.CACHES = {
        **settings.CACHES,
        "doomed": {"BACKEND": "django_redis_patterns.cache.RedisCache", "LOCATION": group.url},
    }
    return group


def test_renewer_gives_up_after_the_ttl_and_exit_raises_lock_lost(doomed: Any) -> None:
    lost: list[str] = []

    def receiver(sender: Any, name: str, **kw: Any) -> None:
        lost.append(name)

    lock_lost.connect(receiver)
    try:
        with pytest.raises(LockLost):
            with lock("outage", ttl=1, renew=True, using="doomed") as held:
                doomed.servers[0].kill()
                for _ in range(1000):
                    if held.lost:
                        break
                    time.sleep(0.01)
                assert held.lost and not held.held
    finally:
        lock_lost.disconnect(receiver)
    assert lost == ["outage"]


def test_release_during_an_outage_within_the_ttl_reports_unavailable(doomed: Any) -> None:
    with pytest.raises(LockUnavailable) as info:
        with lock("outage-short", ttl=30, using="doomed"):
            doomed.servers[0].kill()
    assert info.value.alias == "doomed" and info.value.command == "release"
