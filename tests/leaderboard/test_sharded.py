"""shards=K: one board over K slots, checked against the same board unsharded."""

from __future__ import annotations

import random
from typing import Any

import pytest

from django_redis_patterns import get_redis
from django_redis_patterns.exceptions import ImproperlyConfigured
from django_redis_patterns.leaderboard import Leaderboard
from django_redis_patterns.leaderboard.sharded import ShardedLeaderboard
from tests.topologies import standalone_and_cluster


@standalone_and_cluster
@pytest.mark.parametrize("ranking", ["competition", "ordinal"])
@pytest.mark.parametrize("order", ["desc", "asc"])
def test_sharded_board_answers_like_a_single_board(topology: Any, ranking: str, order: str) -> None:
    sharded = Leaderboard("spread", shards=3, ranking=ranking, order=order)  # type: ignore[arg-type]
    single = Leaderboard("single", ranking=ranking, order=order)  # type: ignore[arg-type]
    assert isinstance(sharded, ShardedLeaderboard)
    rng = random.Random(5)
    for i in range(300):
        score = rng.randrange(40)  # many ties, spread over every shard
        sharded.set_score(f"m{i}", score)
        single.set_score(f"m{i}", score)
    sharded.incr("m7", 3)
    single.incr("m7", 3)
    sharded.remove("m8")
    single.remove("m8")

    def rows(entries: list[Any]) -> list[tuple[int, str, Any]]:
        return [(e.rank, e.member, e.score) for e in entries]

    assert sharded.count() == single.count() == 299
    assert rows(sharded.top(30)) == rows(single.top(30))
    for number in (1, 4, 12):
        assert rows(sharded.page(number, 25).object_list) == rows(single.page(number, 25).object_list)
    assert sharded.page(12, 25).paginator.num_pages == 12
    for member in ("m0", "m7", "m150", "m299"):
        assert sharded.score_and_rank(member) == single.score_and_rank(member)
        assert sharded.rank_of(member) == single.rank_of(member)
        assert sharded.percentile_of(member) == single.percentile_of(member)
        assert rows(sharded.around(member, 4)) == rows(single.around(member, 4))
    assert sharded.rank_of("m8") is None and sharded.around("m8", 2) == []
    assert sharded.set_score_if_better("m0", -100 if order == "desc" else 100) == single.score_of("m0")


def test_shards_live_on_different_slots_and_bad_options_are_refused(redis_ready: Any) -> None:
    from redis.crc import key_slot

    board = Leaderboard("slots", shards=4)
    for i in range(40):
        board.set_score(f"m{i}", i)
    keys = [k for k in get_redis().scan_iter("lb:*") if b"#" in k]
    assert len({key_slot(k) for k in keys}) == 4
    with pytest.raises(ImproperlyConfigured, match="dense"):
        Leaderboard("x", shards=2, ranking="dense")
    with pytest.raises(ImproperlyConfigured, match="periods"):
        Leaderboard("x", shards=2, periods=["weekly"])
    with pytest.raises(ImproperlyConfigured, match="shards"):
        Leaderboard("x", shards=0)
