"""Period boards heal too, where the table can tell: ``period_field`` (when a row's score last
changed) rebuilds a lost period board from the rows changed inside the period, once.

Losses are real (FLUSHALL on every node of the test topology); rebuilds are counted with the
``board_healed`` signal, which names the period it rebuilt.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.checks import run_checks
from django.core.management import call_command
from django.db import connections as db_connections
from django.utils import timezone

from django_redis_patterns import get_redis
from django_redis_patterns.exceptions import ImproperlyConfigured
from django_redis_patterns.leaderboard import BoardMissing
from django_redis_patterns.leaderboard.models import ModelLeaderboard
from django_redis_patterns.leaderboard.periods import start
from django_redis_patterns.leaderboard.rebuild import rebuild
from django_redis_patterns.leaderboard.signals import board_healed
from tests.leaderboard.conftest import competition_ranked, on_board, read_concurrently
from tests.leaderboard_app.models import Achiever, Earner, Player, Scorer
from tests.topologies import standalone_and_cluster

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def heals() -> Iterator[list[str]]:
    """What self-healing reads rebuilt, in order: "all-time" or the period, e.g. "weekly:2026-11-30"."""
    seen: list[str] = []
    lock = threading.Lock()

    def receiver(sender: Any, board: Any, members: int, period: Any = None, **kwargs: Any) -> None:
        with lock:
            seen.append("all-time" if period is None else period.suffix[1:])

    board_healed.connect(receiver, weak=False, dispatch_uid="test_period_heal")
    yield seen
    board_healed.disconnect(dispatch_uid="test_period_heal")


NOW = timezone.now()
LAST_WEEK = NOW - dt.timedelta(days=7)
LONG_AGO = NOW - dt.timedelta(days=40)  # past the weekly boards' retention (PERIOD_RETAIN = 1)


def week_of(moment: dt.datetime) -> str:
    return f"weekly:{start('weekly', moment.astimezone(dt.UTC).date()).isoformat()}"


def populate() -> None:
    """30 rows changed this week, 20 last week, 5 long ago; then a full rebuild, as a site has."""
    rows = [Scorer(name=f"now{i:02d}", score=(i * 37) % 23, region="eu" if i % 3 else "us") for i in range(30)]
    rows += [Scorer(name=f"last{i:02d}", score=(i * 11) % 17, region="us", changed=LAST_WEEK) for i in range(20)]
    rows += [Scorer(name=f"old{i}", score=100 + i, changed=LONG_AGO) for i in range(5)]
    Scorer.objects.bulk_create(rows)
    rebuild(Scorer.leaderboard)


def expected(lo: dt.datetime | None, region: str | None = None) -> list[tuple[str, int, int]]:
    """(member, competition rank, score) of the rows changed in the week containing ``lo``
    (None: every row), from the database, in board order."""
    rows = Scorer.objects.all()
    if lo is not None:
        monday = start("weekly", lo.astimezone(dt.UTC).date())
        first = dt.datetime(monday.year, monday.month, monday.day, tzinfo=dt.UTC)
        rows = rows.filter(changed__gte=first, changed__lt=first + dt.timedelta(days=7))
    if region is not None:
        rows = rows.filter(region=region)
    scores = {str(s.pk): s.score for s in rows}
    return competition_ranked(scores)


@standalone_and_cluster
def test_flushall_then_concurrent_readers_rebuild_this_week_once(topology: Any, heals: list[str]) -> None:
    populate()
    this_week = expected(NOW)
    assert len(this_week) == 30
    weekly = Scorer.leaderboard.period("weekly")
    # Before the loss the weekly board holds every row synced this week (the syncs ran now),
    # the last-week rows included: the first read rebuilds it once (the board has been held only
    # since the rebuild above), from the rows changed this week
    assert on_board(weekly.top(100)) == this_week
    assert heals == [week_of(NOW)]
    heals.clear()
    topology.flush()  # Redis loses everything
    assert get_redis().exists(Scorer.leaderboard.base_key) == 0
    readers = 6
    results = read_concurrently(lambda: on_board(Scorer.leaderboard.period("weekly").top(100)), readers)
    assert heals == [week_of(NOW)]  # exactly one rebuild for six concurrent readers
    assert results == [this_week] * readers
    # its partitions came back with it, and reading them rebuilds nothing more
    assert on_board(weekly.partition("us").top(100)) == expected(NOW, "us")
    assert on_board(weekly.partition("eu").top(100)) == expected(NOW, "eu")
    assert weekly.count() == 30 and len(heals) == 1
    # Redis has held the board's periods since that rebuild (the all-time board is still
    # missing): the weeks that begin later are complete as the writes make them
    assert get_redis().exists(Scorer.leaderboard.marker_key) == 0
    assert Scorer.leaderboard.period("weekly", at=NOW + dt.timedelta(days=7)).top(5) == []
    assert len(heals) == 1
    # the all-time board heals on its own first read: every row
    assert on_board(Scorer.leaderboard.top(100)) == expected(None)
    assert heals == [week_of(NOW), "all-time"]
    assert on_board(weekly.top(100)) == this_week and len(heals) == 2  # still held: no rebuild


@standalone_and_cluster
def test_a_past_period_is_rebuilt_from_the_rows_changed_in_it(topology: Any, heals: list[str]) -> None:
    populate()
    topology.flush()
    last_week = Scorer.leaderboard.period("weekly", at=LAST_WEEK)
    want = expected(LAST_WEEK)
    assert len(want) == 20
    assert on_board(last_week.top(100)) == want
    assert heals == [week_of(LAST_WEEK)]
    assert on_board(last_week.partition("us").top(100)) == want  # all last-week rows are "us"
    assert last_week.count() == 20 and len(heals) == 1
    # a period past its retention expired on purpose: it reads empty and is not rebuilt (the
    # read is guarded by the all-time board, as without period_field: that one heals)
    assert Scorer.leaderboard.period("weekly", at=LONG_AGO).top(10) == []
    assert heals == [week_of(LAST_WEEK), "all-time"]


@standalone_and_cluster
def test_a_write_after_the_heal_lands_on_the_rebuilt_board(topology: Any, heals: list[str]) -> None:
    populate()
    topology.flush()
    weekly = Scorer.leaderboard.period("weekly")
    assert on_board(weekly.top(100)) == expected(NOW)
    mover = Scorer.objects.get(name="last03")  # changed last week: not on this week's board
    assert weekly.score_of(mover) is None
    mover.score, mover.changed = 1000, timezone.now()
    mover.save()
    assert weekly.top(1)[0].member == str(mover.pk)
    assert on_board(weekly.top(100)) == expected(NOW) and len(heals) == 1


@standalone_and_cluster
def test_a_board_held_since_before_the_period_is_read_as_it_is(topology: Any, heals: list[str]) -> None:
    populate()
    weekly = Scorer.leaderboard.period("weekly")
    # Redis has held the board since before this week began: the week's board is complete as
    # the writes made it (every row was synced this week, the last-week rows too)
    get_redis().hset(Scorer.leaderboard.marker_key, "since", 0)
    assert weekly.count() == 55
    assert heals == []


@standalone_and_cluster
async def test_async_period_reads_heal_once(topology: Any, heals: list[str]) -> None:
    import asyncio

    try:
        await sync_to_async(populate)()
        want = await sync_to_async(expected)(NOW)
        await sync_to_async(topology.flush)()
        results = await asyncio.gather(*(Scorer.leaderboard.period("weekly").atop(100) for _ in range(4)))
        assert [on_board(r) for r in results] == [want] * 4
        assert heals == [week_of(NOW)]
    finally:
        await sync_to_async(db_connections.close_all)()


def test_with_self_healing_off_a_lost_period_raises_until_leaderboard_rebuild(
    redis_ready: Any, heals: list[str], settings: Any
) -> None:
    settings.REDIS_PATTERNS = {"LEADERBOARD": {"SELF_HEAL": False}}
    populate()
    get_redis().flushall()
    weekly = Scorer.leaderboard.period("weekly")
    with pytest.raises(BoardMissing, match=rf"its {week_of(NOW)} board .* self-healing is off .* leaderboard_rebuild"):
        weekly.top(3)
    out = io.StringIO()
    call_command("leaderboard_rebuild", "leaderboard_app.Scorer", stdout=out)
    assert f"{week_of(NOW)}: rebuilt with 30 members" in out.getvalue()
    assert on_board(weekly.top(100)) == expected(NOW)
    assert on_board(Scorer.leaderboard.period("daily").top(100)) == expected(NOW)  # all changed today
    assert heals == []


def test_gain_period_boards_are_read_as_they_are_and_reported(redis_ready: Any, heals: list[str]) -> None:
    earner = Earner.objects.create(name="e", score=5)
    rebuild(Earner.leaderboard)
    assert [e.score for e in Earner.leaderboard.period("weekly").top(3)] == [5]
    get_redis().flushall()
    # the gains of this week are gone and the table cannot tell them: the read heals the
    # all-time board and returns what Redis holds of the week (nothing yet), without error
    assert Earner.leaderboard.period("weekly").top(3) == []
    assert heals == ["all-time"]
    Earner.objects.filter(pk=earner.pk).update(score=8)
    assert [e.score for e in Earner.leaderboard.period("weekly").top(3)] == [3]  # the gain since the loss
    warnings = [m for m in run_checks(include_deployment_checks=True) if m.id == "redis_patterns.W043"]
    gain = [m.msg for m in warnings if m.obj == "leaderboard_app.Earner"]
    assert len(gain) == 1 and "'gain' boards cannot be rebuilt" in gain[0] and week_of(NOW) in gain[0]
    out = io.StringIO()
    call_command("redis_status", stdout=out)  # exits 0: reads work, the board is partial
    assert f"leaderboard_app.Earner {week_of(NOW)}: MISSING from Redis" in out.getvalue()


def test_the_deploy_check_reports_lost_period_boards(redis_ready: Any) -> None:
    populate()
    Player.objects.create(name="p", score=1)
    rebuild(Player.leaderboard)
    Scorer.leaderboard.period("weekly").top(1)  # held: its first read rebuilt it
    Scorer.leaderboard.period("daily").top(1)

    def messages(model: str) -> list[Any]:
        return [
            m
            for m in run_checks(include_deployment_checks=True)
            if m.id in ("redis_patterns.I043", "redis_patterns.W043") and m.obj == model
        ]

    assert messages("leaderboard_app.Scorer") == []
    get_redis().flushall()
    scorer = messages("leaderboard_app.Scorer")
    assert {m.id for m in scorer} == {"redis_patterns.I043"} and len(scorer) == 2  # daily and weekly
    assert all("the first read rebuilds it from the rows whose changed falls in it" in m.msg for m in scorer)
    player = messages("leaderboard_app.Player")  # no period_field: its periods hold what comes next
    assert {m.id for m in player} == {"redis_patterns.W043"} and len(player) == 2
    assert all("set period_field" in m.msg and "period_field" in m.hint for m in player)
    Scorer.leaderboard.period("weekly").top(1)
    assert [m.msg.split(":")[0] for m in messages("leaderboard_app.Scorer")] == ["leaderboard_app.Scorer daily"]


@pytest.mark.parametrize(
    "options, message",
    [
        ({"period_field": "nope"}, "period_field = 'nope' is not a field of the model"),
        ({"period_field": "score"}, "period_field = 'score' must be a DateTimeField or DateField"),
        ({"period_field": "changed", "periods": []}, "period_field = 'changed' needs periods"),
        (
            {"period_field": "changed", "period_scores": "gain"},
            "period_field = 'changed' cannot rebuild period_scores = 'gain' boards",
        ),
    ],
)
def test_bad_period_field_is_named(options: dict[str, Any], message: str) -> None:
    config = type("Config", (), {"periods": ["weekly"], **options})
    with pytest.raises(ImproperlyConfigured, match=message):
        ModelLeaderboard(Scorer, config)


@standalone_and_cluster
def test_writes_during_a_period_rebuild_are_neither_lost_nor_undone(topology: Any, settings: Any) -> None:
    from django_redis_patterns.leaderboard.rebuild import Period

    settings.REDIS_PATTERNS = {**getattr(settings, "REDIS_PATTERNS", {}), "LEADERBOARD": {"BATCH_SIZE": 5}}
    populate()
    topology.flush()
    board = Scorer.leaderboard
    this_week = Period("weekly", start("weekly", NOW.astimezone(dt.UTC).date()))
    rows = list(board.rows(board.period_queryset("weekly", this_week.first), removals=False))
    early, late = rows[2][0], rows[-1][0]
    newcomer = Scorer.objects.get(name="last05")  # not changed this week: not among the rows

    def source() -> Iterator[Any]:
        # right after ``early``'s row was read (not yet sent), another client saves three rows
        for row in rows:
            yield row
            if row[0] == early:
                thread = threading.Thread(target=write)
                thread.start()
                thread.join(30)

    def write() -> None:
        try:
            for name, score in ((early, 500), (late, 400), (str(newcomer.pk), 300)):
                Scorer.objects.filter(pk=name).update(score=score, changed=timezone.now())
        finally:
            db_connections.close_all()

    rebuild(board, source(), period=this_week)
    got = on_board(board.period("weekly").top(100))
    assert got == expected(NOW)  # the database, with the three saves made during the rebuild
    assert [m for m, _, _ in got[:3]] == [early, late, str(newcomer.pk)]


@standalone_and_cluster
def test_a_date_field_rebuilds_the_days_of_the_period(topology: Any, heals: list[str]) -> None:
    today = NOW.astimezone(dt.UTC).date()
    monday = start("weekly", today)
    days = [monday, today, monday - dt.timedelta(days=1), monday + dt.timedelta(days=7)]
    Achiever.objects.bulk_create([Achiever(name=f"a{i}", score=10 + i, day=day) for i, day in enumerate(days)])
    topology.flush()
    week = Achiever.leaderboard.period("weekly")
    members = {str(a.pk) for a in Achiever.objects.filter(day__in=days[:2])}  # this week's days, both ends in
    assert {e.member for e in week.top(10)} == members
    assert heals == [week_of(NOW)]
