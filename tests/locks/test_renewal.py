"""renew=True: a background renewer keeps long jobs locked, stops at max_hold, reports loss."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from django_redis_patterns import get_redis
from django_redis_patterns.locks import LockLost, inspection, lock
from django_redis_patterns.locks.core import LockKeys
from tests.topologies import all_topologies

TTL = 1.0  # renewals every 0.33 s: a loaded machine still renews well within the TTL


def _compete(name: str, stop: threading.Event, results: list[bool]) -> None:
    contender = lock(name, ttl=5)
    while not stop.is_set():
        got = contender.acquire(blocking=False)
        results.append(got)
        if got:
            contender.release()
        time.sleep(0.02)


@all_topologies
def test_renewal_keeps_a_job_three_times_the_ttl_locked(topology: Any) -> None:
    stop = threading.Event()
    attempts: list[bool] = []
    with lock("long-job", ttl=TTL, renew=True) as held:
        competitor = threading.Thread(target=_compete, args=("long-job", stop, attempts))
        competitor.start()
        time.sleep(3 * TTL)  # the "job"
        stop.set()
        competitor.join()
        assert held.held and held.renewals >= 2
        owner = inspection.info("long-job").owner
        assert owner is not None and owner.renewals >= 2
    assert attempts and not any(attempts), "someone else got the lock while it was being renewed"


@all_topologies
def test_renewal_stops_at_max_hold(topology: Any) -> None:
    taken_over = threading.Event()

    def contender() -> None:
        with lock("bounded", ttl=5, timeout=30):
            taken_over.set()

    with pytest.raises(LockLost):
        with lock("bounded", ttl=TTL, renew=True, max_hold=2 * TTL) as held:
            thread = threading.Thread(target=contender)
            thread.start()
            # A hung job: the renewer gives up at max_hold, the lock expires, another takes it.
            assert taken_over.wait(30)
            assert held.lost and not held.held
    thread.join()


@all_topologies
def test_failed_renewal_marks_lost_and_exit_raises(topology: Any) -> None:
    with pytest.raises(LockLost):
        with lock("broken", ttl=TTL, renew=True) as held:
            get_redis().delete(LockKeys.for_name("broken").lock)  # e.g. an operator's force release
            for _ in range(500):
                if held.lost:
                    break
                time.sleep(0.01)
            assert held.lost


def test_another_exception_is_not_masked_by_lock_lost(topology: Any) -> None:
    with pytest.raises(ZeroDivisionError):
        with lock("masked", ttl=TTL, renew=True):
            get_redis().delete(LockKeys.for_name("masked").lock)
            1 / 0  # noqa: B018
