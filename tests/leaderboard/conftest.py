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


@pytest.fixture
def boards_exist(redis_ready: Any) -> None:
    """Every test model's board exists in Redis, empty, as a rebuild of the empty tables leaves
    it (a site whose boards were built): reads then show what the syncs wrote, and nothing
    heals. Tests of syncs use it; tests of self-healing do not."""
    from django.apps import apps

    from django_redis_patterns import get_redis
    from django_redis_patterns.leaderboard.models import LeaderboardMixin, board_for

    client = get_redis()
    for model in apps.get_models():
        if issubclass(model, LeaderboardMixin):
            client.hset(board_for(model).marker_key, mapping={"rebuilt_at": 0, "members": 0})


def competition_ranked(scores: dict[str, Any]) -> list[tuple[str, int, Any]]:
    """(member, competition rank, score) of ``scores``, highest first, ties by member: what a
    board built from those rows must read."""
    ordered = sorted(scores, key=lambda m: (-scores[m], m))
    return [(m, 1 + sum(1 for v in scores.values() if v > scores[m]), scores[m]) for m in ordered]


def on_board(entries: list[Any]) -> list[tuple[str, int, Any]]:
    return [(e.member, e.rank, e.score) for e in entries]


def read_concurrently(read: Any, readers: int = 6) -> list[Any]:
    """``read()`` in ``readers`` threads released together by a barrier; their results, or
    AssertionError listing the exceptions. Each thread closes its DB connections."""
    import threading

    from django.db import connections as db_connections

    barrier = threading.Barrier(readers)
    results: list[Any] = [None] * readers
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(10)
            results[i] = read()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            db_connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(readers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    return results
