"""LeaderboardMixin: the board follows committed rows (on_commit), on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection, transaction
from django.db.models import F

from django_redis_patterns import get_redis
from django_redis_patterns.client import connections
from django_redis_patterns.leaderboard.rebuild import check
from tests.leaderboard_app.models import Player, Runner, Team

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("boards_exist")]


def board_rows(board: Any = None) -> list[tuple[int, str, Any]]:
    board = board if board is not None else Player.leaderboard
    return [(e.rank, e.obj.name, e.score) for e in board.top(100)]


def test_saves_outside_a_transaction_sync_at_once(redis_ready: Any) -> None:
    ann = Player.objects.create(name="ann", score=10)
    Player.objects.create(name="bob", score=20)
    assert board_rows() == [(1, "bob", 20), (2, "ann", 10)]
    assert ann.leaderboard_rank == 2
    assert ann.leaderboard_score == 10
    entry = Player.leaderboard.top(1)[0]
    assert entry.name == "bob"  # entries read the model's attributes
    assert entry.obj.region == "eu"


def test_rolled_back_transaction_leaves_redis_untouched(redis_ready: Any) -> None:
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            Player.objects.create(name="ghost", score=99)
            raise RuntimeError("rollback")
    assert Player.leaderboard.count() == 0
    assert [k for k in get_redis().keys("lb:*") if not k.endswith(b":meta")] == []  # only the markers


def test_write_waits_for_commit(redis_ready: Any) -> None:
    with transaction.atomic():
        Player.objects.create(name="ann", score=10)
        assert Player.leaderboard.count() == 0
    assert board_rows() == [(1, "ann", 10)]


def test_nested_savepoint_rollback_drops_only_the_inner_write(redis_ready: Any) -> None:
    with transaction.atomic():
        Player.objects.create(name="outer", score=1)
        try:
            with transaction.atomic():
                Player.objects.create(name="inner", score=2)
                raise RuntimeError
        except RuntimeError:
            pass
        Player.objects.create(name="after", score=3)
    assert board_rows() == [(1, "after", 3), (2, "outer", 1)]


def test_f_expression_saves_write_the_committed_value(redis_ready: Any) -> None:
    ann = Player.objects.create(name="ann", score=10)
    ann.score = F("score") + 5
    ann.save()
    with transaction.atomic():
        ann.score = F("score") * 2
        ann.save()
    assert Player.leaderboard.score_of(ann) == 30
    ann.refresh_from_db()
    assert ann.score == 30


def test_update_fields_without_the_score_skip_redis(redis_ready: Any) -> None:
    ann = Player.objects.create(name="ann", score=10)
    get_redis().zadd(Player.leaderboard.base_key, {str(ann.pk): -777})  # a marker we can see
    ann.nickname = "a"
    ann.save(update_fields=["nickname"])
    assert Player.leaderboard.score_of(ann) == 777  # untouched: no write happened
    ann.save(update_fields=["score"])
    assert Player.leaderboard.score_of(ann) == 10


def test_delete_removes_after_commit_only(redis_ready: Any) -> None:
    ann = Player.objects.create(name="ann", score=10)
    bob = Player.objects.create(name="bob", score=5)
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            ann.delete()
            raise RuntimeError
    assert Player.leaderboard.count() == 2
    bob.delete()
    Player.objects.filter(name="ann").delete()
    assert Player.leaderboard.count() == 0


def test_queryset_update_resyncs_after_commit(redis_ready: Any) -> None:
    for i in range(5):
        Player.objects.create(name=f"p{i}", score=i)
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            Player.objects.filter(score__gte=3).update(score=100)
            raise RuntimeError
    assert Player.leaderboard.score_of(Player.objects.get(name="p4")) == 4
    with transaction.atomic():
        assert Player.objects.filter(score__gte=3).update(score=F("score") + 100) == 2
        assert board_rows()[0] == (1, "p4", 4)
    assert board_rows()[:2] == [(1, "p4", 104), (2, "p3", 103)]
    Player.objects.update(nickname="x")  # not a board field: no sync needed, nothing changes
    assert board_rows()[:2] == [(1, "p4", 104), (2, "p3", 103)]


def test_bulk_create_and_bulk_update_sync(redis_ready: Any) -> None:
    created = Player.objects.bulk_create([Player(name=f"b{i}", score=i * 10) for i in range(4)])
    assert [name for _, name, _ in board_rows()] == ["b3", "b2", "b1", "b0"]
    for obj in created:
        obj.score = 100 - obj.score
    with transaction.atomic():
        Player.objects.bulk_update(created, ["score"])
    assert [name for _, name, _ in board_rows()] == ["b0", "b1", "b2", "b3"]
    for obj in created:
        obj.nickname = "n"
    Player.objects.bulk_update(created, ["nickname"])  # irrelevant field: skipped
    assert [name for _, name, _ in board_rows()] == ["b0", "b1", "b2", "b3"]


def test_sync_queryset_repairs_by_hand(redis_ready: Any) -> None:
    ann = Player.objects.create(name="ann", score=10)
    get_redis().delete(Player.leaderboard.base_key)
    assert Player.leaderboard.count() == 0
    assert Player.leaderboard.sync(Player.objects.filter(pk=ann.pk)) == 1
    assert board_rows() == [(1, "ann", 10)]


def test_partition_follows_the_row(redis_ready: Any) -> None:
    ann = Player.objects.create(name="ann", score=10, region="eu")
    Player.objects.create(name="bob", score=20, region="us")
    assert board_rows(Player.leaderboard.partition("eu")) == [(1, "ann", 10)]
    ann.region = "us"
    ann.save(update_fields=["region"])
    assert board_rows(Player.leaderboard.partition("eu")) == []
    assert board_rows(Player.leaderboard.partition("us")) == [(1, "bob", 20), (2, "ann", 10)]
    assert board_rows(Player.leaderboard.partition("us").period("weekly")) == [(1, "bob", 20), (2, "ann", 10)]


def test_include_as_q_and_as_callable(redis_ready: Any) -> None:
    fast = Runner.objects.create(name="fast", seconds=9.58)
    Runner.objects.create(name="dnf", seconds=None, finished=False)
    slow = Runner.objects.create(name="slow", seconds=12.5)
    Runner.objects.create(name="tie", seconds=12.5)
    assert [(e.rank, e.name) for e in Runner.leaderboard.top(10)] == [(1, "fast"), (2, "slow"), (2, "tie")]
    slow.finished = False
    slow.save()
    Runner.objects.filter(pk=fast.pk).update(finished=False)
    assert [(e.rank, e.name) for e in Runner.leaderboard.top(10)] == [(1, "tie")]
    red = Team.objects.create(name="red", points=5)
    Team.objects.create(name="blue", points=7, active=False)
    assert [e.name for e in Team.leaderboard.top(5)] == ["red"]
    red.active = False
    red.save()
    assert Team.leaderboard.top(5) == []
    # a rebuild applies the same include rules (Q and callable)
    Team.objects.create(name="green", points=1)
    call_command("leaderboard_rebuild", "leaderboard_app.Runner", "leaderboard_app.Team", verbosity=0)
    assert [(e.rank, e.name) for e in Runner.leaderboard.top(10)] == [(1, "tie")]
    assert [e.name for e in Team.leaderboard.top(5)] == ["green"]
    assert check(Runner.leaderboard).ok and check(Team.leaderboard).ok


def test_rows_deleted_behind_the_boards_back_are_skipped_and_removed(redis_ready: Any) -> None:
    for i in range(4):
        Player.objects.create(name=f"p{i}", score=i)
    gone = Player.objects.get(name="p2")
    with connection.cursor() as cursor:  # no signals: raw SQL
        cursor.execute(f"DELETE FROM {Player._meta.db_table} WHERE id = %s", [gone.pk])
    assert [name for _, name, _ in board_rows()] == ["p3", "p1", "p0"]
    assert Player.leaderboard.score_of(gone.pk) is None
    assert Player.leaderboard.count() == 3


def test_redis_down_during_save_db_wins_and_drift_is_repairable(
    redis_ready: Any, redis_factory: Any, settings: Any, caplog: Any
) -> None:
    group = redis_factory("standalone")
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": group.url}}
    connections.reset()
    Player.objects.create(name="ann", score=1)
    server = group.servers[0]
    server.kill()
    caplog.set_level(logging.INFO, logger="django_redis_patterns.leaderboard")
    bob = Player.objects.create(name="bob", score=50)  # committed although Redis is down
    Player.objects.create(name="cat", score=7)
    assert Player.objects.count() == 3
    assert any("unreachable" in r.message for r in caplog.records if r.levelno == logging.WARNING)
    assert any("not synced" in r.message for r in caplog.records)
    server.restart()  # no persistence: it comes back empty
    connections.reset()
    drift = check(Player.leaderboard)
    assert (drift.missing, drift.rows, drift.members) == (3, 3, 0)
    assert not drift.ok
    # the next successful sync in this process retries the rows it missed
    dan = Player.objects.create(name="dan", score=3)
    synced = get_redis().zrange(Player.leaderboard.base_key, 0, -1)
    assert synced == [str(p.pk).encode() for p in (bob, Player.objects.get(name="cat"), dan)]
    # ... but ann was never re-sent, and the board's marker went with the server's data: the
    # first read rebuilds the board from the table (self-healing), so nobody is missing
    assert [name for _, name, _ in board_rows()] == ["bob", "cat", "dan", "ann"]
    assert bob.leaderboard_rank == 1
    assert check(Player.leaderboard).ok
    # and a rebuild repairs what no process remembers, as before
    call_command("leaderboard_rebuild", "leaderboard_app.Player", verbosity=0)
    assert [name for _, name, _ in board_rows()] == ["bob", "cat", "dan", "ann"]


class FailingReads:
    """Fails the next ``times`` reads of the players table with the error SQLite gives a
    reader while another connection writes (the database itself answers everything else)."""

    def __init__(self, times: int) -> None:
        self.left = times

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if self.left and sql.lstrip().upper().startswith("SELECT") and Player._meta.db_table in sql:
            self.left -= 1
            raise OperationalError("database table is locked")
        return execute(sql, params, many, context)


def test_a_sync_read_that_fails_for_a_moment_is_retried(redis_ready: Any) -> None:
    with connection.execute_wrapper(FailingReads(2)):
        ann = Player.objects.create(name="ann", score=5)
    assert Player.leaderboard.score_of(ann) == 5


def test_a_sync_read_that_keeps_failing_waits_for_the_next_sync(redis_ready: Any, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="django_redis_patterns.leaderboard")
    failing = FailingReads(4)  # the read and its three retries
    with connection.execute_wrapper(failing):
        ann = Player.objects.create(name="ann", score=5)
    assert failing.left == 0
    assert Player.leaderboard.count() == 0  # not on the board yet; the row is committed
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "1 row(s) not synced (database: database table is locked), will retry" in warning.message
    bob = Player.objects.create(name="bob", score=3)  # the next sync sends both
    assert [name for _, name, _ in board_rows()] == ["ann", "bob"]
    assert (Player.leaderboard.score_of(ann), Player.leaderboard.score_of(bob)) == (5, 3)


@pytest.mark.django_db(transaction=False)
def test_capture_on_commit_callbacks_in_a_testcase_style_db(
    redis_ready: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        Player.objects.create(name="ann", score=4)
        assert Player.leaderboard.count() == 0  # the test's transaction has not committed
    assert len(callbacks) == 1
    assert board_rows() == [(1, "ann", 4)]


async def test_async_reads_of_a_model_board(redis_ready: Any) -> None:
    from asgiref.sync import sync_to_async
    from django.db import connections as db_connections

    try:
        ann = await Player.objects.acreate(name="ann", score=10)  # autocommit: synced at once
        await Player.objects.acreate(name="bob", score=20)
        entries = await Player.leaderboard.atop(5)
        assert [(e.rank, e.obj.name) for e in entries] == [(1, "bob"), (2, "ann")]
        assert [e.obj.name for e in await Player.leaderboard.aaround(ann, 1)] == ["bob", "ann"]
        assert await Player.leaderboard.arank_of(ann) == 2
    finally:
        # the async ORM ran in asgiref's worker thread: close its connection there, or
        # PostgreSQL refuses to drop the test database at the end of the run
        await sync_to_async(db_connections.close_all)()


def test_model_board_on_fakeredis(transactional_db: Any) -> None:
    from django_redis_patterns.testing import use_fakeredis

    with use_fakeredis():
        Player.objects.create(name="ann", score=10, region="eu")
        Player.objects.create(name="bob", score=10, region="us")
        Player.objects.filter(name="bob").update(score=12)
        assert [(e.rank, e.name) for e in Player.leaderboard.top(5)] == [(1, "bob"), (2, "ann")]
        assert [e.name for e in Player.leaderboard.partition("eu").top(5)] == ["ann"]
        assert Player.objects.get(name="ann").leaderboard_rank == 2
        assert Player.leaderboard.period("weekly").count() == 2


def test_concurrent_increments_from_threads_converge(redis_ready: Any) -> None:
    import threading

    from django.db import connections as db_connections

    # On SQLite's shared in-memory test database the writers and the commit callbacks' reads
    # meet "database table is locked": the writers retry below, the sync retries its read.
    player = Player.objects.create(name="hot", score=0)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            done = 0
            while done < 25:
                try:
                    with transaction.atomic():
                        # each commit's callback re-reads the row: callbacks that run out
                        # of order still leave the board at the last committed value
                        Player.objects.filter(pk=player.pk).update(score=F("score") + 1)
                    done += 1
                except OperationalError as exc:  # SQLite's shared in-memory test DB: retry
                    if "locked" not in str(exc):
                        raise
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            db_connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    player.refresh_from_db()
    assert player.score == 100
    assert Player.leaderboard.score_of(player) == 100


def test_a_stale_sync_that_writes_last_does_not_win(redis_ready: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two syncs of one row interleave: the first reads 200, the row becomes 300 and is synced,
    then the first writes its stale 200. The board must still end at the committed 300."""
    import threading

    from django.db import connections as db_connections

    player = Player.objects.create(name="raced", score=200)
    board = Player.leaderboard
    real_write = board._pipeline_writes
    first_write_reached, let_it_write = threading.Event(), threading.Event()
    stale_thread: list[threading.Thread] = []

    def paused_write(args: Any, payloads: Any = None) -> Any:
        # Instrumentation only (Redis stays real): hold the stale sync between its read and write.
        if threading.current_thread() in stale_thread and not let_it_write.is_set():
            first_write_reached.set()
            assert let_it_write.wait(30)
        return real_write(args)

    monkeypatch.setattr(board, "_pipeline_writes", paused_write)

    def stale_sync() -> None:
        try:
            board.sync_pks([player.pk])
        finally:
            db_connections.close_all()

    thread = threading.Thread(target=stale_sync)
    stale_thread.append(thread)
    thread.start()
    assert first_write_reached.wait(30)  # it has read 200 and is about to write it
    Player.objects.filter(pk=player.pk).update(score=300)
    board.sync_pks([player.pk])  # the fresh sync writes 300 first
    assert board.score_of(player) == 300
    let_it_write.set()  # now the stale 200 lands ...
    thread.join(30)
    assert board.score_of(player) == 300  # ... and is corrected by the stale sync's own re-read
