"""System checks of REDIS_PATTERNS["LOCKS"]."""

from __future__ import annotations

from typing import Any

import pytest

from django_redis_patterns.locks.checks import check_lock_settings


@pytest.mark.parametrize(
    ("values", "check_id"),
    [
        ({"KEY_PREFIX": "locks:{x}:"}, "redis_patterns.E030"),
        ({"WAIT_SLICE": 0}, "redis_patterns.E031"),
        ({"REDLOCK_DRIFT_FACTOR": 2}, "redis_patterns.E032"),
        ({"BUSY_EXIT_CODE": 300}, "redis_patterns.E033"),
        ({"LOST_EXIT_CODE": 0}, "redis_patterns.W030"),
    ],
)
def test_bad_lock_settings_are_reported(settings: Any, values: dict[str, Any], check_id: str) -> None:
    settings.REDIS_PATTERNS = {"LOCKS": values}
    assert [m.id for m in check_lock_settings()] == [check_id]


def test_good_lock_settings_pass(settings: Any) -> None:
    settings.REDIS_PATTERNS = {"LOCKS": {"KEY_PREFIX": "myapp:lock:", "WAIT_SLICE": 0.5, "BUSY_EXIT_CODE": 0}}
    assert check_lock_settings() == []
