"""Writes made while a rebuild runs are neither lost nor undone by it.

The window: rows the rebuild has read (from the table, or the rows given) but not yet sent
to Redis. A small BATCH_SIZE and a row source that hands control to another thread right
after a given row make a real client write inside that window, on its own connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from django.db import connections as db_connections

from django_redis_patterns.leaderboard import Leaderboard
from django_redis_patterns.leaderboard.rebuild import rebuild
from tests.leaderboard_app.models import Player, Runner
from tests.topologies import standalone_and_cluster

pytestmark = pytest.mark.postgres  # also on PostgreSQL in scripts/test's second pass


@pytest.fixture
def small_batches(settings: Any) -> None:
    settings.REDIS_PATTERNS = {**getattr(settings, "REDIS_PATTERNS", {}), "LEADERBOARD": {"BATCH_SIZE": 5}}


def in_thread(action: Callable[[], Any]) -> None:
    """Run ``action`` on another thread (its own Redis and database connections) and wait."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            action()
        except BaseException as exc:  # pragma: no cover - re-raised below
            errors.append(exc)
        finally:
            db_connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert not thread.is_alive()
    if errors:
        raise errors[0]


def writing_after(rows: Iterable[Any], member: str, action: Callable[[], Any], seen: list[str]) -> Iterator[Any]:
    """Yield ``rows``; right after ``member``'s row has been read, let another thread write."""
    for row in rows:
        yield row
        if str(row[0]) == member:
            in_thread(action)
            seen.append(member)


@standalone_and_cluster
def test_incr_during_a_rebuild_adds_to_the_rebuilt_score(topology: Any, small_batches: None) -> None:
    board = Leaderboard("races")
    rows = [(f"m{i}", i, None) for i in range(60)] + [("hero", 100, None)]
    rebuild(board, rows)
    seen: list[str] = []
    # hero's row (100) is read; before it reaches Redis, another client adds 5
    rebuild(board, writing_after(rows, "m3", lambda: board.incr("hero", 5), seen))
    assert seen == ["m3"]
    assert board.score_of("hero") == 105
    rebuild(board, writing_after(rows, "hero", lambda: board.incr("hero", 5), seen))
    assert seen == ["m3", "hero"]
    assert board.score_of("hero") == 105


@standalone_and_cluster
def test_incr_and_best_during_a_rebuild_of_a_dense_partitioned_board(topology: Any, small_batches: None) -> None:
    board = Leaderboard("races-dense", ranking="dense", partitioned=True)
    rows = [(f"m{i}", i % 7, "eu" if i % 2 else "us") for i in range(40)] + [("hero", 100, "eu")]

    def writes() -> None:
        board.incr("hero", 5)  # 105
        board.set_score_if_better("hero", 90)  # not better: stays 105
        board.incr("newbie", 3)  # not in the rows: the write made during the rebuild stays

    seen: list[str] = []
    rebuild(board, writing_after(rows, "hero", writes, seen))
    assert seen == ["hero"]
    assert board.score_and_rank("hero") == (105, 1)
    assert board.partition("eu").score_and_rank("hero") == (105, 1)
    assert board.score_of("newbie") == 3
    assert board.count() == 42
    # the dense companions agree with the board: 105, then 6 (five members), 5, 4, then 3
    assert [e.rank for e in board.top(3)] == [1, 2, 2]  # five members score 6
    assert board.rank_of("newbie") == 5  # 105, 6, 5 and 4 are better


@standalone_and_cluster
@pytest.mark.django_db(transaction=True)
def test_a_row_deleted_during_a_rebuild_stays_deleted(topology: Any, small_batches: None) -> None:
    players = [Player.objects.create(name=f"p{i}", score=i, region="eu") for i in range(30)]
    board = Player.leaderboard
    rebuild(board)
    victim, bumped = players[2], players[3]
    real_rows = board.rows
    seen: list[str] = []

    def changes() -> None:
        Player.objects.filter(pk=victim.pk).delete()  # its sync removes it from the board
        Player.objects.filter(pk=bumped.pk).update(score=500)

    def rows(queryset: Any, *, removals: bool = True) -> Iterator[Any]:
        # the rebuild has read every row (a snapshot) and sends them in batches of 5
        return writing_after(list(real_rows(queryset, removals=removals)), str(victim.pk), changes, seen)

    board.rows = rows  # type: ignore[method-assign]
    try:
        rebuild(board)
    finally:
        del board.rows
    assert seen == [str(victim.pk)]
    assert board.score_of(victim.pk) is None
    assert board.count() == 29
    assert board.score_and_rank(bumped.pk) == (500, 1)


@standalone_and_cluster
@pytest.mark.django_db(transaction=True)
def test_a_row_excluded_during_a_rebuild_stays_out(topology: Any, small_batches: None) -> None:
    runners = [Runner.objects.create(name=f"r{i}", seconds=10.0 + i) for i in range(30)]
    board = Runner.leaderboard
    rebuild(board)
    quitter = runners[4]
    real_rows = board.rows
    seen: list[str] = []

    def rows(queryset: Any, *, removals: bool = True) -> Iterator[Any]:
        return writing_after(
            list(real_rows(queryset, removals=removals)),
            str(quitter.pk),
            lambda: Runner.objects.filter(pk=quitter.pk).update(finished=False),  # include leaves it out
            seen,
        )

    board.rows = rows  # type: ignore[method-assign]
    try:
        rebuild(board)
    finally:
        del board.rows
    assert seen == [str(quitter.pk)]
    assert board.score_of(quitter.pk) is None
    assert board.count() == 29
    assert board.rank_of(runners[5].pk) == 5  # dense companions forgot 14.0 too
