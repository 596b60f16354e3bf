"""Fixtures for the lock tests: subprocess environments and a runner for manage.py commands."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

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
    import time

    end = time.monotonic() + limit
    while not path.exists():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"child exited {proc.returncode} before {path.name}:\n{out}\n{err}")
        if time.monotonic() > end:
            raise AssertionError(f"{path.name} never appeared")
        time.sleep(0.01)
