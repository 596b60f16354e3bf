"""Ranks of all three modes against a plain Python reference, on random boards full of ties."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_redis_patterns.leaderboard import Leaderboard

# Few distinct scores over many members: lots of ties, including ties across page edges.
members = st.text(alphabet="abcdefghij0123456789", min_size=1, max_size=4)
boards = st.dictionaries(
    members, st.integers(min_value=-3, max_value=3) | st.sampled_from([0.5, -2.25, 10**15]), min_size=1, max_size=40
)

hyp = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def reference(scores: dict[str, Any], order: str, ranking: str) -> list[tuple[int, str, Any]]:
    """(rank, member, score) in board order, computed the obvious way."""
    better = (lambda a, b: a > b) if order == "desc" else (lambda a, b: a < b)
    rows = sorted(scores.items(), key=lambda kv: (-kv[1] if order == "desc" else kv[1], kv[0].encode()))
    out = []
    for position, (member, score) in enumerate(rows):
        if ranking == "ordinal":
            rank = position + 1
        elif ranking == "competition":
            rank = 1 + sum(1 for s in scores.values() if better(s, score))
        else:
            rank = 1 + len({s for s in scores.values() if better(s, score)})
        out.append((rank, member, score))
    return out


def load(name: str, scores: dict[str, Any], order: str, ranking: str) -> Leaderboard:
    board = Leaderboard(name, order=order, ranking=ranking)  # type: ignore[arg-type]
    board.delete()
    # written in a shuffled-ish order, with some members overwritten, so companions get exercised
    for member, score in reversed(list(scores.items())):
        board.set_score(member, 99)
        board.set_score(member, score)
    return board


@pytest.mark.parametrize("order", ["desc", "asc"])
@pytest.mark.parametrize("ranking", ["competition", "dense", "ordinal"])
@hyp
@given(scores=boards, data=st.data())
def test_pages_around_and_rank_of_match_reference(
    redis_ready: Any, order: str, ranking: str, scores: dict[str, Any], data: Any
) -> None:
    board = load("prop", scores, order, ranking)
    expected = reference(scores, order, ranking)
    got = [(e.rank, e.member, e.score) for e in board.top(len(scores) + 5)]
    assert got == expected
    per_page = data.draw(st.integers(min_value=1, max_value=7))
    number = data.draw(st.integers(min_value=1, max_value=(len(scores) - 1) // per_page + 1))
    page = board.page(number, per_page)
    start = (number - 1) * per_page
    assert [(e.rank, e.member) for e in page.object_list] == [(r, m) for r, m, _ in expected[start : start + per_page]]
    member = data.draw(st.sampled_from(sorted(scores)))
    n = data.draw(st.integers(min_value=0, max_value=4))
    position = next(i for i, row in enumerate(expected) if row[1] == member)
    around = expected[max(0, position - n) : position + n + 1]
    assert [(e.rank, e.member) for e in board.around(member, n)] == [(r, m) for r, m, _ in around]
    assert board.rank_of(member) == expected[position][0]
    assert board.score_and_rank(member) == (scores[member], expected[position][0])


@hyp
@given(scores=boards, removals=st.lists(members, max_size=10), data=st.data())
def test_dense_ranks_stay_right_after_removals_and_increments(
    redis_ready: Any, scores: dict[str, Any], removals: list[str], data: Any
) -> None:
    board = load("prop-dense", scores, "desc", "dense")
    current = dict(scores)
    for member in removals:
        board.remove(member)
        current.pop(member, None)
    for member in data.draw(st.lists(st.sampled_from(sorted(scores)), max_size=5)):
        delta = data.draw(st.integers(min_value=-2, max_value=2))
        board.incr(member, delta)
        current[member] = current.get(member, 0) + delta
    assert [(e.rank, e.member) for e in board.top(100)] == [(r, m) for r, m, _ in reference(current, "desc", "dense")]
