"""System checks, and the one-round-trip claim counted on the wire."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis.connection
from django.db import models
from django.test.utils import isolate_apps

from django_redis_patterns.exceptions import ImproperlyConfigured
from django_redis_patterns.leaderboard import Leaderboard, LeaderboardMixin
from django_redis_patterns.leaderboard.checks import check_leaderboard_admins, check_leaderboard_models, check_model
from django_redis_patterns.leaderboard.models import ModelLeaderboard
from tests.leaderboard_app.models import Player


def test_checks_pass_for_valid_configuration() -> None:
    assert check_leaderboard_models() == []
    assert check_leaderboard_admins() == []


@isolate_apps("tests.leaderboard_app")
def test_checks_report_bad_config_and_a_manager_without_the_queryset() -> None:
    class Plain(LeaderboardMixin, models.Model):
        points = models.IntegerField()
        objects = models.Manager()

        class Leaderboard:
            score_field = "score"  # no such field

        class Meta:
            app_label = "leaderboard_app"

    ids = [message.id for message in check_model(Plain)]
    assert ids == ["redis_patterns.E040", "redis_patterns.W040"]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("score_field", "points", "score_field = 'points' is not a field"),
        ("partition_by", "country", "partition_by = 'country' is not a field"),
        ("ranking", "olympic", "ranking must be one of"),
        ("periods", ["hourly"], "periods must be among"),
        ("include", 42, "include must be a callable"),
        ("colour", "red", "unknown option(s) colour"),
    ],
)
def test_bad_inner_configuration_is_reported(option: str, value: Any, message: str) -> None:
    config = type("Leaderboard", (), {"score_field": "score", option: value})
    with pytest.raises(ImproperlyConfigured, match=message.replace("(", r"\(").replace(")", r"\)")):
        ModelLeaderboard(Player, config)


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts commands written to the socket (the real send still happens)."""
    counter = [0]
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self: Any, command: Any, check_health: bool = True) -> None:
        counter[0] += 1
        original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    yield counter


@pytest.mark.parametrize("ranking", ["competition", "dense", "ordinal"])
def test_every_read_is_one_round_trip(redis_ready: Any, round_trips: list[int], ranking: str) -> None:
    board = Leaderboard("rt", ranking=ranking, periods=["weekly"], partitioned=True)  # type: ignore[arg-type]
    for i in range(200):
        board.set_score(f"m{i}", i // 3, partition="eu" if i % 2 else "us")
    # one-offs: the ZRANK ... WITHSCORE capability probe, and the read script's first EVALSHA
    # on this server (NOSCRIPT, then EVAL caches it)
    board.score_and_rank("m1")
    board.percentile_of("m1")
    reads = [
        lambda: board.top(10),
        lambda: board.page(3, 25),
        lambda: board.around("m50", 5),
        lambda: board.rank_of("m50"),
        lambda: board.score_and_rank("m50"),
        lambda: board.score_of("m50"),
        lambda: board.by_score(10, 20),
        lambda: board.count(),
        lambda: board.percentile_of("m50"),
        lambda: board.histogram(10),
        lambda: board.partition("eu").page(2, 10),
        lambda: board.period("weekly").around("m50", 3),
        lambda: board.partition("us").period("weekly").rank_of("m50"),
        lambda: board.ranks_of(["m1", "m2", "m3"]),
    ]
    for read in reads:
        before = round_trips[0]
        read()
        assert round_trips[0] - before == 1
    before = round_trips[0]
    board.incr("m1", 5)
    board.set_score_if_better("m1", 500)
    board.remove("m2")
    assert round_trips[0] - before == 3  # one per write, periods and partitions included


@pytest.mark.django_db
def test_model_board_reads_are_one_round_trip_and_one_query(
    redis_ready: Any, round_trips: list[int], django_assert_num_queries: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        Player.objects.bulk_create([Player(name=f"p{i}", score=i % 7) for i in range(40)])
    Player.leaderboard.percentile_of("1")  # the read script's first call on this server loads it
    before = round_trips[0]
    with django_assert_num_queries(1):
        entries = Player.leaderboard.page(2, 10).object_list
    assert round_trips[0] - before == 1
    assert all(isinstance(e.obj, models.Model) for e in entries) and len(entries) == 10
