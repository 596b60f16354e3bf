"""Rebuilds swap atomically (readers never see a partial board); --check reports and changes nothing."""

from __future__ import annotations

import io
import threading
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from django_redis_patterns import get_redis
from django_redis_patterns.leaderboard import Leaderboard
from django_redis_patterns.leaderboard.rebuild import RebuildError, check, rebuild
from tests.leaderboard_app.models import Player
from tests.topologies import standalone_and_cluster


@standalone_and_cluster
def test_concurrent_reader_never_sees_a_partial_board(topology: Any) -> None:
    board = Leaderboard("atomic", ranking="dense", partitioned=True)
    rebuild(board, [(f"old{i}", i % 50, "eu") for i in range(3000)])
    assert board.count() == 3000
    new_rows = [(f"new{i}", 1000 + i % 70, "us" if i % 2 else "eu") for i in range(12000)]
    new_rows.append(("live", 1, "eu"))  # also written live during the rebuild, with a newer value

    seen: list[tuple[int, int, frozenset[str]]] = []
    stop = threading.Event()
    started = threading.Barrier(2)
    loads = 0

    def reader() -> None:
        started.wait()
        while not stop.is_set():
            # each read is one script call, so each is a snapshot: the board's size, the
            # partition's size and the kinds of members on its first page must agree
            page = board.partition("eu").page(1, 50)
            seen.append((board.count(), page.paginator.count, frozenset(e.member[:3] for e in page.object_list)))

    def progress(done: int) -> None:
        nonlocal loads
        loads += 1
        if loads == 1:
            board.set_score("live", 5000, partition="us")  # a live write in the middle of the rebuild
            with pytest.raises(RebuildError, match="already running"):
                rebuild(board, [])
            started.wait()
            # the reader keeps reading the old board (plus the live write) while the copy fills up
            while len(seen) < 20:
                pass

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        result = rebuild(board, new_rows, progress=progress)
    finally:
        stop.set()
        thread.join()
    assert result.members == 12001
    assert {count for count, _, _ in seen} <= {3001, 12001}
    pages = {(size, kinds) for _, size, kinds in seen}
    assert pages <= {(3000, frozenset({"old"})), (6000, frozenset({"new"}))}
    assert (3000, frozenset({"old"})) in pages  # read during the rebuild: still the whole old board
    assert board.score_and_rank("live") == (5000, 1)  # the live write survived the swap
    assert board.partition("us").score_of("live") == 5000
    assert board.count() == 12001
    assert board.partition("eu").count() == 6000
    client = get_redis()
    assert client.exists(board.base_key + ":rebuilding") == 0
    assert client.ttl(board.base_key) == -1


def test_rebuild_drops_members_and_partitions_the_source_no_longer_has(redis_ready: Any) -> None:
    board = Leaderboard("shrink", ranking="dense", partitioned=True)
    for i in range(10):
        board.set_score(f"m{i}", i, partition="gone" if i < 5 else "kept")
    rebuild(board, [("m7", 70, "kept"), ("m8", 80, None)])
    assert [(e.rank, e.member, e.score) for e in board.top(10)] == [(1, "m8", 80), (2, "m7", 70)]
    assert board.partitions() == ["kept"]
    assert board.partition("gone").count() == 0
    assert [e.member for e in board.partition("kept").top(5)] == ["m7"]
    assert sorted(get_redis().zrange(board.base_key + ":ds", 0, -1)) == [b"-70", b"-80"]


def test_rebuild_throughput_is_reported(redis_ready: Any) -> None:
    board = Leaderboard("fast")
    result = rebuild(board, ((str(i), i, None) for i in range(20_000)))
    # consistency of the report, not a speed claim: every loaded row counted, rate = members / seconds
    assert result.members == 20_000 == board.count()
    assert 0 < result.seconds < float("inf")
    assert result.rate == result.members / result.seconds
    assert board.rank_of("19999") == 1


@pytest.mark.django_db(transaction=True)
def test_check_reports_drift_and_changes_nothing(redis_ready: Any) -> None:
    players = [Player.objects.create(name=f"p{i}", score=i, region="eu") for i in range(6)]
    client = get_redis()
    key = Player.leaderboard.base_key
    client.zadd(key, {str(players[0].pk): -999})  # mismatched score
    client.zrem(key, str(players[1].pk))  # missing
    client.zadd(key, {"424242": -5})  # extra (no such row)
    client.hset(key + ":pm", str(players[2].pk), "us")  # wrong partition
    before = {k: client.dump(k) for k in client.scan_iter("lb:*")}
    out = io.StringIO()
    with pytest.raises(CommandError, match="drifted"):
        call_command("leaderboard_rebuild", "leaderboard_app.Player", check=True, stdout=out)
    text = out.getvalue()
    assert "missing=1" in text and "extra=1" in text and "mismatched=1" in text and "wrong_partition=1" in text
    assert str(players[1].pk) in text and "424242" in text
    assert {k: client.dump(k) for k in client.scan_iter("lb:*")} == before  # nothing changed
    call_command("leaderboard_rebuild", "leaderboard_app.Player", stdout=io.StringIO(), stderr=io.StringIO())
    assert check(Player.leaderboard).ok
    out = io.StringIO()
    call_command("leaderboard_rebuild", "leaderboard_app.Player", check=True, stdout=out)
    assert "in sync (6 members)" in out.getvalue()
    assert [e.name for e in Player.leaderboard.top(3)] == ["p5", "p4", "p3"]


@pytest.mark.django_db
def test_command_rejects_unknown_and_non_leaderboard_models(redis_ready: Any) -> None:
    with pytest.raises(CommandError, match="unknown model"):
        call_command("leaderboard_rebuild", "nope.Nothing")
    with pytest.raises(CommandError, match="does not use LeaderboardMixin"):
        call_command("leaderboard_rebuild", "auth.User")


@pytest.mark.django_db(transaction=True)
def test_command_shows_a_progress_bar(redis_ready: Any) -> None:
    Player.objects.bulk_create([Player(name=f"p{i}", score=i) for i in range(2500)])
    err, out = io.StringIO(), io.StringIO()
    call_command("leaderboard_rebuild", "leaderboard_app.Player", verbosity=2, stdout=out, stderr=err)
    assert "2,500/2,500" in err.getvalue() and "#" * 30 in err.getvalue()
    assert "rebuilt with 2,500 members" in out.getvalue()


def test_plain_board_rebuild_keeps_live_writes_and_swaps_whole(redis_ready: Any) -> None:
    # no dense companions, no partitions: the copy is loaded with plain ZADD NX, no script
    board = Leaderboard("plain")
    rebuild(board, [(f"old{i}", i, None) for i in range(2000)])
    seen: list[tuple[int, frozenset[str]]] = []

    def progress(done: int) -> None:
        if done and not seen:
            board.set_score("live", 10**6)  # written live mid-rebuild; the rows below say 1
            board.remove("old5")
        page = board.page(1, 20)
        seen.append((page.paginator.count, frozenset(e.member[:3] for e in page.object_list[1:])))

    rows = [(f"new{i}", i, None) for i in range(20_000)] + [("live", 1, None)]
    rebuild(board, rows, progress=progress)
    assert seen  # progress was reported, so the check below looked at something
    assert all(state == (2000, frozenset({"old"})) for state in seen)  # the old board throughout
    assert board.score_and_rank("live") == (10**6, 1)
    assert board.count() == 20_001
    assert {e.member[:3] for e in board.top(50)[1:]} == {"new"}


@standalone_and_cluster
@pytest.mark.django_db(transaction=True)
def test_command_rebuild_and_check_on_every_topology(topology: Any) -> None:
    for i in range(30):
        Player.objects.create(name=f"p{i}", score=i % 9, region="eu" if i % 2 else "us")
    client = get_redis()
    client.delete(Player.leaderboard.base_key)  # lose the all-time board
    with pytest.raises(CommandError, match="drifted"):
        call_command("leaderboard_rebuild", "leaderboard_app.Player", check=True, stdout=io.StringIO())
    call_command("leaderboard_rebuild", "leaderboard_app.Player", stdout=io.StringIO())
    out = io.StringIO()
    call_command("leaderboard_rebuild", "leaderboard_app.Player", check=True, stdout=out)
    assert "in sync (30 members)" in out.getvalue()
    assert [e.score for e in Player.leaderboard.top(3)] == [8, 8, 8]
    assert Player.leaderboard.partition("eu").count() == 15
