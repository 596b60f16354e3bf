"""Self-healing boards: when Redis loses a model's board, the first read rebuilds it, once.

"Loses" is done for real: the test server is flushed (FLUSHALL on every node), or restarted
without persistence. Rebuilds are counted with the ``board_healed`` signal.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.db import connections as db_connections
from django.db.models import F

from django_redis_patterns import get_redis
from django_redis_patterns.leaderboard import BoardMissing, Leaderboard
from django_redis_patterns.leaderboard.rebuild import rebuild
from django_redis_patterns.leaderboard.signals import board_healed
from tests.leaderboard.conftest import competition_ranked, on_board, read_concurrently
from tests.leaderboard_app.models import Player, Runner
from tests.topologies import all_topologies, standalone_and_cluster

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def heals() -> Iterator[list[Any]]:
    """The boards rebuilt by self-healing reads, in order (any thread)."""
    seen: list[Any] = []
    lock = threading.Lock()

    def receiver(sender: Any, board: Any, members: int, **kwargs: Any) -> None:
        with lock:
            seen.append((sender, members))

    board_healed.connect(receiver, weak=False, dispatch_uid="test_self_heal")
    yield seen
    board_healed.disconnect(dispatch_uid="test_self_heal")


def populate(n: int = 60) -> list[Player]:
    players = Player.objects.bulk_create(
        [Player(name=f"p{i:03d}", score=(i * 37) % 23, region="eu" if i % 3 else "us") for i in range(n)]
    )
    rebuild(Player.leaderboard)  # a site whose board was built
    return players


def expected_top(region: str | None = None) -> list[tuple[str, int, int]]:
    """(member, competition rank, score) from the database, in board order."""
    rows = Player.objects.all() if region is None else Player.objects.filter(region=region)
    scores = {str(p.pk): p.score for p in rows}
    return competition_ranked(scores)


@all_topologies
def test_flushall_then_concurrent_readers_rebuild_the_board_once(topology: Any, heals: list[Any]) -> None:
    populate()
    assert on_board(Player.leaderboard.top(100)) == expected_top()
    topology.flush()  # Redis loses everything
    assert get_redis().exists(Player.leaderboard.base_key) == 0
    readers = 6
    results = read_concurrently(lambda: on_board(Player.leaderboard.top(100)), readers)
    assert heals == [(Player, 60)]  # exactly one rebuild for six concurrent readers
    assert all(result == expected_top() for result in results)
    assert on_board(Player.leaderboard.partition("us").top(100)) == expected_top("us")
    assert len(heals) == 1


@standalone_and_cluster
def test_every_kind_of_read_heals(topology: Any, heals: list[Any]) -> None:
    players = populate(30)
    board = Player.leaderboard
    top = expected_top()
    by_member = {str(p.pk): p for p in players}
    leader, member = by_member[top[0][0]], by_member[top[10][0]]
    reads: list[tuple[Callable[[], Any], Any]] = [
        (lambda: on_board(board.top(30)), top),
        (lambda: board.count(), 30),
        (lambda: board.score_of(member), member.score),
        (lambda: board.rank_of(member), top[10][1]),
        (lambda: board.score_and_rank(leader), (leader.score, 1)),
        (lambda: board.ranks_of([member.pk])[str(member.pk)], (member.score, top[10][1])),
        (lambda: board.position_of(member), 10),
        (lambda: board.percentile_of(leader), 100.0),
        (lambda: board.histogram(5)[0], 30),
        (lambda: [e.member for e in board.around(member, 1)], [m for m, _, _ in top[9:12]]),
        (lambda: board.page(2, 10).object_list[0].member, top[10][0]),
        (lambda: [e.member for e in board.by_score(0, 0)], [m for m, _, s in top if s == 0]),
        (lambda: board.partitions(), ["eu", "us"]),
        (lambda: on_board(board.partition("eu").top(30)), expected_top("eu")),
        (lambda: member.leaderboard_rank, top[10][1]),
    ]
    for i, (read, want) in enumerate(reads):
        topology.flush()
        assert read() == want, i
        assert len(heals) == i + 1, i
        assert read() == want and len(heals) == i + 1  # once back, no more rebuilds


@standalone_and_cluster
def test_a_period_read_heals_the_board_it_belongs_to(topology: Any, heals: list[Any]) -> None:
    populate(20)
    topology.flush()
    # the daily board cannot be rebuilt (the table has no history): it refills with new writes
    assert Player.leaderboard.period("daily").top(5) == []
    assert heals == [(Player, 20)]
    assert on_board(Player.leaderboard.top(20)) == expected_top()
    Player.objects.filter(name="p001").update(score=100)
    assert [e.name for e in Player.leaderboard.period("daily").top(5)] == ["p001"]
    assert len(heals) == 1


@standalone_and_cluster
def test_an_empty_board_is_held_and_does_not_rebuild_on_every_read(topology: Any, heals: list[Any]) -> None:
    rebuild(Player.leaderboard)  # no rows at all
    for _ in range(3):
        assert Player.leaderboard.top(5) == [] and Player.leaderboard.count() == 0
    assert heals == []
    topology.flush()
    for _ in range(3):
        assert Player.leaderboard.top(5) == []
    assert heals == [(Player, 0)]  # once, although the board is still empty


@standalone_and_cluster
def test_syncs_on_a_missing_board_do_not_make_it_look_complete(topology: Any, heals: list[Any]) -> None:
    players = populate(40)
    topology.flush()
    # the score changes and its sync writes a one-member board: not the whole board
    Player.objects.filter(pk=players[5].pk).update(score=F("score") + 1000)
    assert get_redis().zcard(Player.leaderboard.base_key) == 1
    assert Player.leaderboard.count() == 40  # the read saw the marker missing and rebuilt
    assert heals == [(Player, 40)]
    assert on_board(Player.leaderboard.top(40)) == expected_top()
    assert Player.leaderboard.score_and_rank(players[5]) == (players[5].score + 1000, 1)


@standalone_and_cluster
def test_each_model_board_heals_on_its_own_first_read(topology: Any, heals: list[Any]) -> None:
    populate(25)
    Runner.objects.bulk_create([Runner(name=f"r{i}", seconds=10.0 + i % 4, finished=i % 5 != 0) for i in range(25)])
    rebuild(Runner.leaderboard)
    topology.flush()
    assert [e.rank for e in Runner.leaderboard.top(25)] == [1] * 5 + [2] * 5 + [3] * 5 + [4] * 5  # dense
    assert on_board(Player.leaderboard.top(25)) == expected_top()
    assert sorted(sender.__name__ for sender, _ in heals) == ["Player", "Runner"]


@standalone_and_cluster
def test_with_self_healing_off_reads_raise_board_missing(topology: Any, heals: list[Any], settings: Any) -> None:
    settings.REDIS_PATTERNS = {"LEADERBOARD": {"SELF_HEAL": False}}
    populate(10)
    topology.flush()
    with pytest.raises(BoardMissing, match=r"self-healing is off.*leaderboard_rebuild leaderboard_app.Player") as info:
        Player.leaderboard.top(5)
    assert info.value.board == "leaderboard_app.player"
    with pytest.raises(BoardMissing):
        Player.leaderboard.score_of("1")
    assert heals == []

    # the deploy checks name it; the command that rebuilds it brings it back
    def errors() -> list[str]:
        return [m.obj for m in run_checks(include_deployment_checks=True) if m.id == "redis_patterns.E042"]

    assert "leaderboard_app.Player" in errors()
    call_command("leaderboard_rebuild", "leaderboard_app.Player", stdout=io.StringIO())
    assert on_board(Player.leaderboard.top(10)) == expected_top()
    assert "leaderboard_app.Player" not in errors()


def test_the_deploy_check_reports_a_missing_board_that_will_heal(redis_ready: Any) -> None:
    populate(3)

    def missing() -> list[str]:
        return [m.msg for m in run_checks(include_deployment_checks=True) if m.id == "redis_patterns.I041"]

    assert not any("leaderboard_app.Player" in msg for msg in missing())
    out = io.StringIO()
    call_command("redis_status", stdout=out)
    assert "leaderboard_app.Player: held, 3 members" in out.getvalue()
    get_redis().flushall()
    assert any("leaderboard_app.Player" in msg and "first read" in msg for msg in missing())
    out = io.StringIO()
    with pytest.raises(CommandError, match="drifted"):  # the scores are gone too, and it says why
        call_command("leaderboard_rebuild", "leaderboard_app.Player", check=True, stdout=out)
    assert "MISSING from Redis (no marker lb:{leaderboard_app.player}:meta): the first read rebuilds it" in (
        out.getvalue()
    )
    out = io.StringIO()
    call_command("redis_status", stdout=out)  # exits 0: the board heals on its own
    assert "leaderboard_app.Player: MISSING from Redis; the first read rebuilds it" in out.getvalue()


def test_a_reader_waits_for_another_process_s_rebuild(redis_ready: Any, heals: list[Any], settings: Any) -> None:
    populate(15)
    get_redis().flushall()
    board = Player.leaderboard
    # another process has started rebuilding the board (its marker is set) ...
    get_redis().set(board.base_key + ":rebuilding", board.base_key + ":rebuild", ex=60)
    got: list[Any] = []
    thread = threading.Thread(target=lambda: (got.append(on_board(board.top(15))), db_connections.close_all()))
    thread.start()
    thread.join(0.3)
    assert thread.is_alive()  # ... so this reader waits instead of starting a second one
    rebuild(board, force=True)  # the other process finishes
    thread.join(10)
    assert got == [expected_top()]
    assert heals == []  # the reader rebuilt nothing itself
    # a rebuild that never finishes: the reader gives up after HEAL_WAIT, with a clear error
    settings.REDIS_PATTERNS = {"LEADERBOARD": {"HEAL_WAIT": 0.2}}
    get_redis().flushall()
    get_redis().set(board.base_key + ":rebuilding", board.base_key + ":rebuild", ex=60)
    with pytest.raises(BoardMissing, match=r"did not finish within HEAL_WAIT \(0.2 s\)"):
        board.top(5)


@standalone_and_cluster
async def test_async_reads_heal_once(topology: Any, heals: list[Any]) -> None:
    import asyncio

    try:
        await sync_to_async(populate)(30)
        want = await sync_to_async(expected_top)()
        await sync_to_async(topology.flush)()
        results = await asyncio.gather(*(Player.leaderboard.atop(30) for _ in range(4)))
        assert [on_board(r) for r in results] == [want] * 4
        assert heals == [(Player, 30)]
        assert await Player.leaderboard.acount() == 30
        assert len(heals) == 1
    finally:
        await sync_to_async(db_connections.close_all)()


def test_a_board_without_a_model_does_not_guard_its_reads(redis_ready: Any) -> None:
    board = Leaderboard("plain")
    board.set_score("ann", 3)
    assert board.top(1)[0].member == "ann"  # no marker needed: Redis is its only source
    get_redis().flushall()
    assert board.top(1) == []


@pytest.mark.parametrize(
    "value, message", [("yes", 'SELF_HEAL"] must be True or False'), (-1, 'HEAL_WAIT"] must be a number')]
)
def test_bad_settings_are_named(redis_ready: Any, settings: Any, value: Any, message: str) -> None:
    from django_redis_patterns.exceptions import ImproperlyConfigured

    key = "SELF_HEAL" if isinstance(value, str) else "HEAL_WAIT"
    settings.REDIS_PATTERNS = {"LEADERBOARD": {key: value}}
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        Player.leaderboard.top(1)


def test_the_model_option_overrides_the_setting(redis_ready: Any, heals: list[Any], settings: Any) -> None:
    from django_redis_patterns.exceptions import ImproperlyConfigured
    from django_redis_patterns.leaderboard.models import ModelLeaderboard

    class Big:
        name = "players-big"
        score_field = "score"
        self_heal = False

    class Small:
        name = "players-small"
        score_field = "score"
        self_heal = True

    big, small = ModelLeaderboard(Player, Big), ModelLeaderboard(Player, Small)
    Player.objects.bulk_create([Player(name=f"p{i}", score=i) for i in range(5)])
    with pytest.raises(BoardMissing, match="self-healing is off"):
        big.top(3)  # never built: missing, and this board may not rebuild during a read
    settings.REDIS_PATTERNS = {"LEADERBOARD": {"SELF_HEAL": False}}
    assert [e.score for e in small.top(3)] == [4, 3, 2]  # the model's True wins over the setting
    assert [sender for sender, _ in heals] == [Player]

    class Bad:
        self_heal = "no"

    with pytest.raises(ImproperlyConfigured, match="self_heal must be True or False"):
        ModelLeaderboard(Player, Bad)
