"""Fixtures for the lock tests: subprocess environments, a runner for manage.py commands, wake-up helpers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from django_redis_patterns import get_redis
from django_redis_patterns.locks import core
from django_redis_patterns.locks.core import LockKeys

ROOT = Path(__file__).resolve().parents[2]


def child_env(url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DRP_TEST_REDIS_URL": url,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


@pytest.fixture
def manage(topology: Any) -> Callable[..., subprocess.Popen[str]]:
    """Start ``python -m django <args> --settings=tests.settings`` against the test topology."""

    def start(*args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "django", *args, "--settings=tests.settings"],
            env=child_env(topology.url, **env),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    return start


def wait_file(path: Path, proc: subprocess.Popen[str] | None = None, limit: float = 60.0) -> None:
    """Wait for a child to create ``path`` (fails fast if the child died)."""
    end = time.monotonic() + limit
    while not path.exists():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"child exited {proc.returncode} before {path.name}:\n{out}\n{err}")
        if time.monotonic() > end:
            raise AssertionError(f"{path.name} never appeared")
        time.sleep(0.01)


def slow_polling(settings: Any, topology: Any) -> None:
    """Make the polling fallback useless within a test: each BLPOP may last 20 s.

    WAIT_SLICE is also capped at half the alias's socket timeout (core.wait_limit), so that
    is raised too. A waiter then gets the lock quickly only if the release woke it.
    """
    settings.REDIS_PATTERNS = {**getattr(settings, "REDIS_PATTERNS", {}), "LOCKS": {"WAIT_SLICE": 20.0}}
    settings.CACHES = {**settings.CACHES, "default": topology.cache_config(SOCKET_TIMEOUT=45.0)}
    assert core.wait_limit("default") == 20.0


def wait_for_waiter(name: str) -> None:
    """Until a blocked waiter has made its failed attempt (it set the "waiting" marker)."""
    client = get_redis()
    end = time.monotonic() + 30
    while not client.exists(LockKeys.for_name(name).waiting):
        assert time.monotonic() < end, "the waiter never tried"
        time.sleep(0.01)
    time.sleep(0.2)  # and is (very likely) inside its BLPOP; a release before it still wakes it


#: A wake-up bound (no 20 s poll), not a speed claim: the hand-over takes about a round trip.
WOKEN_WITHIN = 2.0
