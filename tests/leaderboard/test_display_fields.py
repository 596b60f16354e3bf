"""display_fields: a model board keeps a few columns in Redis, so its pages read no SQL."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from django_redis_patterns import get_redis
from django_redis_patterns.exceptions import ImproperlyConfigured
from django_redis_patterns.leaderboard import ModelLeaderboard, RankedList
from django_redis_patterns.leaderboard.rebuild import rebuild
from tests.leaderboard_app.models import Gamer, Player
from tests.topologies import standalone_and_cluster

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("boards_exist")]

JOINED = datetime.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.UTC)


def _gamers(n: int) -> list[Gamer]:
    return [Gamer.objects.create(name=f"g{i:02d}", score=10 * i, joined=JOINED, bio="long text") for i in range(n)]


def _stored(gamer: Gamer) -> bool:
    board = Gamer.leaderboard
    return bool(get_redis(board.alias).hexists(board.data_key, str(gamer.pk)))


@standalone_and_cluster
def test_pages_read_no_sql_once_the_rows_are_synced(redis_ready: Any, django_assert_num_queries: Any) -> None:
    gamers = _gamers(20)
    board = Gamer.leaderboard
    with django_assert_num_queries(0):
        top = board.top(5)
        size, around = board.around_entries(gamers[10], 2)
        by_score = board.by_score(50, 80)
        page = RankedList(board)[5:8]
        weekly = board.period("weekly").top(3)
    assert [(e.rank, e.obj.name, e.score) for e in top] == [(1, "g19", 190), (2, "g18", 180), (3, "g17", 170),
                                                            (4, "g16", 160), (5, "g15", 150)]  # fmt: skip
    assert size == 20 and [e.obj.name for e in around] == ["g12", "g11", "g10", "g09", "g08"]
    assert [e.name for e in by_score] == ["g08", "g07", "g06", "g05"]  # entries read the obj's attributes
    assert [e.rank for e in page] == [6, 7, 8]
    assert [e.obj.name for e in weekly] == ["g19", "g18", "g17"]
    entry = top[0]
    assert entry.obj.pk == gamers[19].pk and isinstance(entry.obj, Gamer)
    assert entry.obj.joined == JOINED  # the datetime comes back as a datetime, to the millisecond
    with django_assert_num_queries(1):
        assert entry.obj.bio == "long text"  # not a display field: deferred, read on first use


def test_a_changed_display_field_shows_at_once(redis_ready: Any, django_assert_num_queries: Any) -> None:
    [gamer] = _gamers(1)
    gamer.name = "renamed"
    gamer.save(update_fields=["name"])  # a save of a display field alone syncs the row
    with django_assert_num_queries(0):
        assert Gamer.leaderboard.top(1)[0].obj.name == "renamed"
    Gamer.objects.filter(pk=gamer.pk).update(name="bulk")  # the board's queryset syncs too
    with django_assert_num_queries(0):
        assert Gamer.leaderboard.top(1)[0].obj.name == "bulk"


def test_rows_without_stored_data_are_read_once_then_stored(redis_ready: Any, django_assert_num_queries: Any) -> None:
    gamers = _gamers(4)
    board = Gamer.leaderboard
    get_redis(board.alias).hdel(board.data_key, str(gamers[1].pk), str(gamers[2].pk))  # synced before the option
    with django_assert_num_queries(1):  # only the two rows without data
        assert [e.obj.name for e in board.top(4)] == ["g03", "g02", "g01", "g00"]
    assert _stored(gamers[1]) and _stored(gamers[2])
    with django_assert_num_queries(0):
        assert [e.obj.name for e in board.top(4)] == ["g03", "g02", "g01", "g00"]


def test_unreadable_data_is_read_from_the_table(redis_ready: Any, django_assert_num_queries: Any) -> None:
    [gamer] = _gamers(1)
    board = Gamer.leaderboard
    get_redis(board.alias).hset(board.data_key, str(gamer.pk), '{"title": "from another config"}')
    with django_assert_num_queries(1):
        assert board.top(1)[0].obj.name == "g00"


def test_rebuild_drops_display_data_that_drifted_and_reads_refill_it(
    redis_ready: Any, django_assert_num_queries: Any
) -> None:
    [gamer] = _gamers(1)
    with connection.cursor() as cursor:  # behind the board's back: no sync
        cursor.execute(f"UPDATE {Gamer._meta.db_table} SET name = 'raw' WHERE id = %s", [gamer.pk])
    assert Gamer.leaderboard.top(1)[0].obj.name == "g00"  # drifted, like a score would
    rebuild(Gamer.leaderboard)
    assert not _stored(gamer)
    with django_assert_num_queries(1):
        assert Gamer.leaderboard.top(1)[0].obj.name == "raw"
    with django_assert_num_queries(0):
        assert Gamer.leaderboard.top(1)[0].obj.name == "raw"


def test_a_row_without_a_score_leaves_no_data_behind(redis_ready: Any) -> None:
    [gamer] = _gamers(1)
    Gamer.objects.filter(pk=gamer.pk).update(score=None)
    assert Gamer.leaderboard.count() == 0 and not _stored(gamer)


def test_a_deleted_row_takes_its_display_data_along(redis_ready: Any) -> None:
    gamers = _gamers(2)
    gamers[0].delete()
    assert not _stored(gamers[0]) and _stored(gamers[1])
    assert [e.obj.name for e in Gamer.leaderboard.top(5)] == ["g01"]


async def test_async_reads_use_the_stored_data_and_store_what_is_missing(redis_ready: Any) -> None:
    from asgiref.sync import sync_to_async
    from django.db import connections as db_connections

    try:
        gamers = await sync_to_async(_gamers)(3)
        board = Gamer.leaderboard
        get_redis(board.alias).hdel(board.data_key, str(gamers[0].pk))
        entries = await board.atop(3)
        assert [(e.obj.name, e.obj.joined) for e in entries] == [("g02", JOINED), ("g01", JOINED), ("g00", JOINED)]
        assert await sync_to_async(_stored)(gamers[0])
    finally:
        # the ORM ran in asgiref's worker thread: close its connection there, or PostgreSQL
        # refuses to drop the test database at the end of the run
        await sync_to_async(db_connections.close_all)()


def test_boards_without_display_fields_read_their_rows(redis_ready: Any, django_assert_num_queries: Any) -> None:
    Player.objects.create(name="ann", score=10)
    with django_assert_num_queries(1):
        assert Player.leaderboard.top(1)[0].obj.name == "ann"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (["nope"], "display_fields = 'nope' is not a field"),
        (["id"], "'id' must be a plain column"),
        ("name", "must be a list of field names"),
    ],
)
def test_display_fields_must_be_plain_columns(fields: Any, message: str) -> None:
    config = type("Leaderboard", (), {"name": "gamer.check", "display_fields": fields})
    with pytest.raises(ImproperlyConfigured, match=message):
        ModelLeaderboard(Gamer, config)


def test_joined_now_round_trips(redis_ready: Any) -> None:
    now = timezone.now()
    Gamer.objects.create(name="now", score=1, joined=now)
    assert Gamer.leaderboard.top(1)[0].obj.joined == now


@standalone_and_cluster
def test_a_pickle_planted_in_the_display_data_is_never_loaded(
    redis_ready: Any, tmp_path: Any, django_assert_num_queries: Any
) -> None:
    """Display data is JSON read with json.loads: planted bytes are not a row, the row is read instead."""
    from tests.gadgets import code_executing_pickle

    gamers = _gamers(2)
    board = Gamer.leaderboard
    marker = tmp_path / "ran"
    get_redis(board.alias).hset(board.data_key, str(gamers[1].pk), code_executing_pickle(marker))
    with django_assert_num_queries(1):  # the planted entry's row, from the database
        top = board.top(2)
    assert [e.obj.name for e in top] == ["g01", "g00"]
    assert not marker.exists()
