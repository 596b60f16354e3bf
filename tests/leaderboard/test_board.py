"""The Leaderboard board on a real Redis: ranking modes, writes, validation, reads, views."""

from __future__ import annotations

import datetime as dt
import math
import time
from decimal import Decimal
from typing import Any

import pytest
import redis.exceptions
from django.core.paginator import EmptyPage, Paginator

from django_redis_patterns import get_redis
from django_redis_patterns.exceptions import ImproperlyConfigured
from django_redis_patterns.leaderboard import InvalidScore, Leaderboard, LeaderboardError
from tests.topologies import all_topologies, standalone_and_cluster

SCORES = {"a": 50, "b": 50, "c": 30, "d": 30, "e": 10}


def make(ranking: str = "competition", order: str = "desc", **kw: Any) -> Leaderboard:
    board = Leaderboard("game", ranking=ranking, order=order, **kw)  # type: ignore[arg-type]
    for member, score in SCORES.items():
        board.set_score(member, score)
    return board


def ranks(entries: list[Any]) -> list[tuple[int, str]]:
    return [(e.rank, e.member) for e in entries]


@all_topologies
def test_three_ranking_modes_on_every_topology(topology: Any) -> None:
    assert ranks(make("competition").top(5)) == [(1, "a"), (1, "b"), (3, "c"), (3, "d"), (5, "e")]
    assert ranks(make("dense").top(5)) == [(1, "a"), (1, "b"), (2, "c"), (2, "d"), (3, "e")]
    assert ranks(make("ordinal").top(5)) == [(1, "a"), (2, "b"), (3, "c"), (4, "d"), (5, "e")]


@pytest.mark.parametrize(
    ("ranking", "expected"),
    [
        ("competition", [(1, "e"), (2, "c"), (2, "d"), (4, "a"), (4, "b")]),
        ("dense", [(1, "e"), (2, "c"), (2, "d"), (3, "a"), (3, "b")]),
        ("ordinal", [(1, "e"), (2, "c"), (3, "d"), (4, "a"), (5, "b")]),
    ],
)
def test_ascending_boards(redis_ready: Any, ranking: str, expected: list[tuple[int, str]]) -> None:
    board = make(ranking, "asc")
    assert ranks(board.top(5)) == expected
    assert board.rank_of("d") == expected[2][0]


def test_ordinal_ties_break_by_member_bytes_in_both_orders(redis_ready: Any) -> None:
    for order in ("desc", "asc"):
        board = Leaderboard(f"ties-{order}", ranking="ordinal", order=order)  # type: ignore[arg-type]
        for member in ("9", "10", "b", "a"):
            board.set_score(member, 7)
        assert [e.member for e in board.top(4)] == ["10", "9", "a", "b"]


def test_scores_and_ranks_of_members(redis_ready: Any) -> None:
    board = make("competition")
    assert board.score_of("c") == 30
    assert board.rank_of("d") == 3
    assert board.score_and_rank("d") == (30, 3)
    assert board.score_and_rank("nobody") == (None, None)
    assert board.rank_of("nobody") is None
    assert board.score_of("nobody") is None
    assert board.count() == 5
    assert board.percentile_of("a") == 100.0
    assert board.percentile_of("e") == 20.0
    assert board.percentile_of("c") == 60.0
    assert board.percentile_of("nobody") is None
    assert board.ranks_of(["a", "e", "x"]) == {"a": (50, 1), "e": (10, 5), "x": (None, None)}


def test_ordinal_score_and_rank_uses_one_command(redis_ready: Any) -> None:
    board = make("ordinal")
    assert board.score_and_rank("d") == (30, 4)
    assert board.score_and_rank("zz") == (None, None)


def test_incr_best_and_remove(redis_ready: Any) -> None:
    board = make("dense")
    assert board.incr("e", 45) == 55
    assert board.top(1)[0].member == "e"
    assert board.set_score_if_better("e", 20) == 55  # worse: kept
    assert board.set_score_if_better("e", 60) == 60
    assert board.set_score_if_better("new", 1) == 1
    board.remove("a")
    assert ranks(board.top(10)) == [(1, "e"), (2, "b"), (3, "c"), (3, "d"), (4, "new")]
    asc = Leaderboard("golf", order="asc")
    asc.set_score("x", 72)
    assert asc.set_score_if_better("x", 75) == 72
    assert asc.set_score_if_better("x", 68) == 68


def test_dense_companion_survives_zero_scores_and_removals(redis_ready: Any) -> None:
    # leaderboard-python leaves "0.0" behind when a zero score is removed: the next member's
    # dense rank becomes 3 instead of 2. Here the distinct-score set is reference counted.
    board = Leaderboard("zero", ranking="dense")
    board.set_score("a", 10)
    board.set_score("z", 0)
    board.set_score("y", 0)
    board.remove("z")
    board.set_score("y", 5)
    board.set_score("w", -1)
    assert ranks(board.top(5)) == [(1, "a"), (2, "y"), (3, "w")]
    client = get_redis()
    assert sorted(client.zrange(board.base_key + ":ds", 0, -1)) == [b"-10", b"-5", b"1"]


@pytest.mark.parametrize(
    "bad",
    [float("nan"), float("inf"), -float("inf"), "12", None, True, 2**53 + 1, -(2**54), 1e300, Decimal("NaN")],
)
def test_bad_scores_are_refused_before_redis(redis_ready: Any, bad: Any) -> None:
    board = Leaderboard("strict")
    with pytest.raises(InvalidScore, match="score"):
        board.set_score("a", bad)
    with pytest.raises(InvalidScore, match="amount"):
        board.incr("a", bad)
    assert board.count() == 0


def test_increment_past_two_to_the_53_is_refused_and_changes_nothing(redis_ready: Any) -> None:
    board = Leaderboard("big", periods=["daily"])
    board.set_score("a", 2**53 - 1)
    with pytest.raises(InvalidScore, match="2\\^53"):
        board.incr("a", 5)
    assert board.score_of("a") == 2**53 - 1
    assert board.period("daily").score_of("a") == 2**53 - 1


def test_exact_large_and_fractional_scores_round_trip(redis_ready: Any) -> None:
    board = Leaderboard("exact")
    board.set_score("big", 2**53)
    board.set_score("frac", 0.1)
    board.set_score("dec", Decimal("2.5"))
    assert board.score_of("big") == 2**53
    assert board.score_of("frac") == 0.1
    assert board.score_of("dec") == 2.5
    assert board.incr("frac", 0.2) == pytest.approx(0.3)


def test_bad_configuration_and_arguments_name_the_argument() -> None:
    with pytest.raises(ImproperlyConfigured, match="ranking"):
        Leaderboard("x", ranking="olympic")  # type: ignore[arg-type]
    with pytest.raises(ImproperlyConfigured, match="order"):
        Leaderboard("x", order="up")  # type: ignore[arg-type]
    with pytest.raises(ImproperlyConfigured, match="periods"):
        Leaderboard("x", periods=["hourly"])
    with pytest.raises(ImproperlyConfigured, match="name"):
        Leaderboard("a{b}")
    with pytest.raises(ImproperlyConfigured, match="not partitioned"):
        Leaderboard("x").partition("eu")
    with pytest.raises(ImproperlyConfigured, match="period"):
        Leaderboard("x").period("weekly")
    with pytest.raises(LeaderboardError, match="member"):
        Leaderboard("x").set_score(3.5, 1)
    with pytest.raises(LeaderboardError, match="per_page"):
        Leaderboard("x").page(1, 0)


def test_page_is_a_django_page_in_one_round_trip(redis_ready: Any) -> None:
    board = Leaderboard("pages", ranking="competition")
    for i in range(54):
        board.set_score(f"m{i:02d}", i // 2)  # pairs of ties
    page = board.page(2, 10)
    assert page.number == 2
    assert page.paginator.count == 54
    assert page.paginator.num_pages == 6
    assert page.has_next() and page.has_previous()
    assert [e.rank for e in page.object_list] == [11, 11, 13, 13, 15, 15, 17, 17, 19, 19]
    assert [e.rank for e in board.page(6, 10).object_list] == [51, 51, 53, 53]
    with pytest.raises(EmptyPage):
        board.page(7, 10)
    # the same rows through Django's own Paginator
    paginator = Paginator(board.ranked(), 10)
    assert paginator.num_pages == 6
    assert [(e.rank, e.member) for e in paginator.page(2)] == [(e.rank, e.member) for e in page.object_list]
    assert list(paginator.get_elided_page_range(1)) == [1, 2, 3, 4, 5, 6]
    assert (board.ranked()[0].rank, board.ranked()[0].member) == (1, "m52")


def test_around_with_and_without_fill(redis_ready: Any) -> None:
    board = Leaderboard("around", ranking="ordinal")
    for i in range(20):
        board.set_score(f"m{i:02d}", i)
    assert [e.rank for e in board.around("m10", 2)] == [8, 9, 10, 11, 12]
    assert [e.rank for e in board.around("m19", 2)] == [1, 2, 3]
    assert [e.rank for e in board.around("m19", 2, fill=True)] == [1, 2, 3, 4, 5]
    assert [e.rank for e in board.around("m00", 2, fill=True)] == [16, 17, 18, 19, 20]
    assert board.around("nobody", 3) == []
    count, rows = board.around_entries("m10", 1)
    assert count == 20 and [(e.rank, e.member) for e in rows] == [(9, "m11"), (10, "m10"), (11, "m09")]
    assert board.around_entries("nobody", 1) == (20, [])


def test_by_score_with_ranks_in_both_orders(redis_ready: Any) -> None:
    desc = make("competition")
    assert ranks(desc.by_score(20, 50)) == [(1, "a"), (1, "b"), (3, "c"), (3, "d")]
    assert ranks(desc.by_score(20, 40)) == [(3, "c"), (3, "d")]
    assert ranks(desc.by_score(min=20, limit=1, offset=1)) == [(1, "b")]
    asc = make("dense", "asc")
    assert ranks(asc.by_score(10, 30)) == [(1, "e"), (2, "c"), (2, "d")]
    assert asc.by_score(100, 200) == []


def test_histogram_counts_every_member(redis_ready: Any) -> None:
    board = make()
    count, low, high, bins = board.histogram(4)
    assert (count, low, high) == (5, 10, 50)
    assert sum(bins) == 5 and bins[0] == 1 and bins[-1] == 2


def expires_at(client: Any, key: str) -> float:
    """Unix time a key expires at (PTTL + now: EXPIRETIME needs Redis 7, the suite also runs on 6.2)."""
    pttl = client.pttl(key)
    assert pttl > 0, f"{key} has no expiry ({pttl})"
    return time.time() + pttl / 1000


def test_periods_roll_over_and_expire(redis_ready: Any, settings: Any) -> None:
    # Future dates: a period that already ended more than PERIOD_RETAIN periods ago expires at once.
    board = Leaderboard("season", periods=["daily", "weekly", "monthly"])
    monday = dt.date(2030, 11, 25)
    board.incr("a", 10, at=monday)
    board.incr("a", 5, at=monday + dt.timedelta(days=1))
    board.incr("b", 7, at=monday + dt.timedelta(days=7))  # Monday Dec 2: next week and next month
    board.incr("a", 1, at=dt.date(2030, 12, 3))
    assert board.score_of("a") == 16
    assert board.period("daily", at=monday).score_of("a") == 10
    assert board.period("daily", at=monday + dt.timedelta(days=1)).score_of("a") == 5
    assert board.period("weekly", at=monday + dt.timedelta(days=6)).score_of("a") == 15
    week2 = board.period("weekly", at=monday + dt.timedelta(days=8))
    assert ranks(week2.top(5)) == [(1, "b"), (2, "a")]
    assert week2.score_of("a") == 1
    assert board.period("monthly", at=dt.date(2030, 11, 15)).score_of("a") == 15
    assert ranks(board.period("monthly", at=dt.date(2030, 12, 31)).top(5)) == [(1, "b"), (2, "a")]
    client = get_redis()
    # a period expires one full period after it ends (PERIOD_RETAIN = 1)
    week_key = board.base_key + ":weekly:2030-11-25"
    assert expires_at(client, week_key) == pytest.approx(dt.datetime(2030, 12, 9, tzinfo=dt.UTC).timestamp(), abs=2)
    month_key = board.base_key + ":monthly:2030-11"
    assert expires_at(client, month_key) == pytest.approx(dt.datetime(2030, 12, 31, tzinfo=dt.UTC).timestamp(), abs=2)
    day_key = board.base_key + ":daily:2030-11-25"
    assert expires_at(client, day_key) == pytest.approx(dt.datetime(2030, 11, 27, tzinfo=dt.UTC).timestamp(), abs=2)
    assert client.ttl(board.base_key) == -1  # all-time never expires


def test_writes_to_long_finished_periods_expire_at_once(redis_ready: Any) -> None:
    board = Leaderboard("history", periods=["daily"])
    board.set_score("a", 3, at=dt.date(2020, 1, 1))
    assert board.score_of("a") == 3
    assert board.period("daily", at=dt.date(2020, 1, 1)).count() == 0


def test_current_period_comes_from_redis_time(redis_ready: Any) -> None:
    board = Leaderboard("now", periods=["daily"])
    board.set_score("a", 3)
    seconds = int(get_redis().time()[0])
    today = dt.datetime.fromtimestamp(seconds, tz=dt.UTC).date()
    assert board.period("daily").score_of("a") == 3
    assert board.period("daily", at=today).score_of("a") == 3
    assert board.period("daily", at=today - dt.timedelta(days=1)).score_of("a") is None


def test_partitions_follow_members_and_keep_scores(redis_ready: Any) -> None:
    board = Leaderboard("regional", partitioned=True, periods=["weekly"])
    board.set_score("a", 50, partition="eu")
    board.set_score("b", 40, partition="us")
    board.set_score("c", 30, partition="eu")
    board.set_score("x", 99, partition=None)  # global only
    assert ranks(board.top(5)) == [(1, "x"), (2, "a"), (3, "b"), (4, "c")]
    assert ranks(board.partition("eu").top(5)) == [(1, "a"), (2, "c")]
    board.incr("c", 100)  # keeps its partition
    assert ranks(board.partition("eu").top(5)) == [(1, "c"), (2, "a")]
    board.set_score("a", 60, partition="us")  # moves
    assert ranks(board.partition("eu").top(5)) == [(1, "c")]
    assert ranks(board.partition("us").top(5)) == [(1, "a"), (2, "b")]
    assert ranks(board.partition("us").period("weekly").top(5)) == [(1, "a"), (2, "b")]
    assert board.partition("eu").period("weekly").score_of("a") is None
    board.partition("eu").set_score("z", 1)  # a partition view writes into its partition
    assert board.partition("eu").rank_of("z") == 2
    board.remove("c")
    assert ranks(board.partition("eu").top(5)) == [(1, "z")]
    assert board.partitions() == ["eu", "us"]
    weird = board.partition("a:b")
    weird.set_score("w", 5)
    assert weird.top(1)[0].member == "w"
    assert "a:b" in board.partitions()


@standalone_and_cluster
def test_all_keys_of_a_board_share_one_cluster_slot(topology: Any) -> None:
    board = Leaderboard("slot", ranking="dense", partitioned=True, periods=["daily", "weekly", "monthly"])
    board.set_score("a", 1, partition="eu")
    board.set_score("b", 2, partition="us")
    assert ranks(board.partition("us").period("monthly").top(3)) == [(1, "b")]
    assert board.period("weekly").count() == 2
    from redis.crc import key_slot

    client = get_redis()
    keys = (
        [k for k in client.scan_iter(match="lb:*", target_nodes="primaries")]
        if topology.kind == "cluster"
        else list(client.scan_iter(match="lb:*"))
    )
    assert len(keys) >= 20
    assert len({key_slot(k) for k in keys}) == 1


async def test_async_twins(redis_ready: Any) -> None:
    board = Leaderboard("async", ranking="dense")
    await board.aset_score("a", 5)
    await board.aset_score("b", 5)
    assert await board.aincr("c", 3) == 3
    assert await board.aset_score_if_better("c", 1) == 3
    assert [(e.rank, e.member) for e in await board.atop(3)] == [(1, "a"), (1, "b"), (2, "c")]
    assert await board.arank_of("c") == 2
    assert await board.ascore_and_rank("c") == (3, 2)
    assert await board.ascore_of("a") == 5
    assert [e.member for e in await board.aaround("c", 1)] == ["b", "c"]
    count, rows = await board.aaround_entries("c", 1)
    assert count == 3 and [(e.rank, e.member) for e in rows] == [(1, "b"), (2, "c")]
    assert [e.member for e in await board.aby_score(4, 6)] == ["a", "b"]
    assert await board.acount() == 3
    page = await board.apage(2, 2)
    assert [(e.rank, e.member) for e in page.object_list] == [(2, "c")] and page.paginator.num_pages == 2
    assert await board.apercentile_of("c") == pytest.approx(100 / 3)
    await board.aremove("a")
    assert await board.acount() == 2


def test_works_on_fakeredis() -> None:
    from django_redis_patterns.testing import use_fakeredis

    with use_fakeredis():
        board = Leaderboard("fake", ranking="dense", periods=["weekly"], partitioned=True)
        for member, score in SCORES.items():
            board.set_score(member, score, partition="eu")
        assert ranks(board.top(5)) == [(1, "a"), (1, "b"), (2, "c"), (2, "d"), (3, "e")]
        assert ranks(board.partition("eu").around("c", 1)) == [(1, "b"), (2, "c"), (2, "d")]
        assert board.period("weekly").count() == 5
        assert board.page(1, 2).paginator.num_pages == 3
        assert math.isclose(board.percentile_of("e") or 0, 20.0)
        ordinal = Leaderboard("fake-ordinal", ranking="ordinal")
        for member, score in SCORES.items():
            ordinal.set_score(member, score)
        assert ordinal.score_and_rank("d") == (30, 4)  # ZRANK ... WITHSCORE when the server has it


def test_redis_down_raises_quickly_and_logs_once(redis_factory: Any, settings: Any, caplog: Any) -> None:
    from django_redis_patterns.client import connections
    from django_redis_patterns.leaderboard import LeaderboardUnavailable

    group = redis_factory("standalone")
    settings.CACHES = {
        **settings.CACHES,
        "lbdown": {"BACKEND": "django_redis_patterns.cache.RedisCache", "LOCATION": group.url},
    }
    connections.reset()
    board = Leaderboard("down", using="lbdown")
    board.set_score("a", 1)
    group.servers[0].kill()
    caplog.set_level("WARNING", logger="django_redis_patterns.leaderboard")
    for _ in range(3):
        with pytest.raises(LeaderboardUnavailable) as info:
            board.top(5)
        assert info.value.alias == "lbdown"
        assert isinstance(info.value, redis.exceptions.ConnectionError)  # what sorted-set code catches
    assert len([r for r in caplog.records if "unreachable" in r.message]) == 1


def test_gain_periods_add_the_all_time_change(redis_ready: Any) -> None:
    for ranking in ("competition", "dense"):
        board = Leaderboard(f"gain-{ranking}", periods=["weekly"], period_scores="gain", ranking=ranking)  # type: ignore[arg-type]
        week1, week2 = dt.date(2030, 11, 25), dt.date(2030, 12, 2)
        board.set_score("a", 10, at=week1)
        board.set_score("b", 4, at=week1)
        board.set_score("a", 25, at=week2)
        board.set_score("b", 4, at=week2)  # unchanged: earned nothing this week
        board.set_score("a", 20, at=week2)
        assert board.score_of("a") == 20
        assert [(e.member, e.score) for e in board.period("weekly", at=week1).top(5)] == [("a", 10), ("b", 4)]
        assert [(e.member, e.score) for e in board.period("weekly", at=week2).top(5)] == [("a", 10)]
        board.incr("b", 3, at=week2)  # increments are gains already
        assert board.period("weekly", at=week2).score_of("b") == 3
    with pytest.raises(ImproperlyConfigured, match="period_scores"):
        Leaderboard("x", period_scores="delta")


@standalone_and_cluster
def test_delete_removes_every_key_of_the_board_only(topology: Any) -> None:
    board = Leaderboard("doomed", ranking="dense", partitioned=True, periods=["daily", "weekly"])
    other = Leaderboard("doomed2")
    board.set_score("a", 1, partition="eu")
    board.set_score("b", 2, partition="us", at=dt.date(2030, 1, 1))
    other.set_score("a", 1)
    board.delete()
    client = get_redis()
    scan = (
        client.scan_iter("lb:*", target_nodes="primaries") if topology.kind == "cluster" else client.scan_iter("lb:*")
    )
    assert sorted(scan) == [other.base_key.encode()]
    assert board.count() == 0 and other.count() == 1
