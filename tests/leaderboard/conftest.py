"""Fixtures for the leaderboard tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def redis_ready(topology: Any) -> Iterator[Any]:
    """An emptied standalone (or parametrized) topology with CACHES["default"] on it."""
    yield topology


@pytest.fixture
def artifact() -> Any:
    """``artifact("name")`` -> path under test-artifacts/leaderboard/."""
    from tests.conftest import artifact_path

    return lambda name: artifact_path("leaderboard", name)
