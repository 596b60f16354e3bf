"""Fixtures of the rate-limiting tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import RequestFactory

from django_redis_patterns.ratelimit import core


@pytest.fixture(autouse=True)
def _fresh_limiter_state() -> Iterator[None]:
    """No shared Limiter or 'Redis is down' flag leaks between tests."""
    core._limiters.clear()
    core._down.clear()
    yield
    core._limiters.clear()
    core._down.clear()


@pytest.fixture
def rf() -> RequestFactory:
    return RequestFactory()


def ratelimit_settings(settings: Any, **values: Any) -> None:
    """Set REDIS_PATTERNS["RATELIMIT"] keys for one test (pytest-django restores them)."""
    current = dict(getattr(settings, "REDIS_PATTERNS", None) or {})
    section = dict(current.get("RATELIMIT", {}))
    section.update(values)
    current["RATELIMIT"] = section
    settings.REDIS_PATTERNS = current
