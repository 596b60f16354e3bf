"""Leaderboards on a 1,000,000-member board: ours vs the ``leaderboard`` package vs bare redis-py.

* ours: ``Leaderboard`` (competition ranking: equal scores share a rank) on its own keys.
* ``leaderboard`` 3.7.3 (PyPI): its writes fail on redis-py >= 3, so its sorted set is
  filled here directly in its layout (a plain ZSET, raw scores, read with ZREVRANGE); only
  its read calls are timed. ``CompetitionRankingLeaderboard`` is the class with our ranks.
* bare redis-py: the code a developer writes by hand for the same answer (competition
  ranks need ZCOUNT for the first row of a page, so 2 commands; around-me needs the rank
  first, so 2 round trips).
"""

from __future__ import annotations

import random
import time

from leaderboard.competition_ranking_leaderboard import CompetitionRankingLeaderboard
from leaderboard.leaderboard import Leaderboard as PypiLeaderboard

from django_redis_patterns import get_redis
from django_redis_patterns.leaderboard import Leaderboard
from django_redis_patterns.leaderboard.rebuild import rebuild

from .harness import Context

MEMBERS = 1_000_000
PAGE = 25
PYPI_KEY = "pypi-board"


def _scores(n: int) -> list[int]:
    rng = random.Random(7)
    # ~100k distinct scores over 1M members: plenty of ties, like real game scores
    return [rng.randrange(100_000) for _ in range(n)]


def run(ctx: Context) -> None:
    n = MEMBERS // 10 if ctx.quick else MEMBERS
    scores = _scores(n)
    client = get_redis()
    client.flushdb(asynchronous=True)

    # -- build: our rebuild (Lua loads, pipelined) -------------------------------------------
    def redis_side(result_members: int) -> float:
        # time Redis spent executing the load/swap scripts (INFO commandstats), i.e. the
        # throughput without this Python process's own row encoding
        loading = ("cmdstat_evalsha", "cmdstat_eval", "cmdstat_zadd", "cmdstat_expire")
        usec = sum(v["usec"] for k, v in client.info("commandstats").items() if k in loading)
        return result_members / (usec / 1e6)

    ours = Leaderboard("bench", ranking="competition")
    client.config_resetstat()
    result = rebuild(ours, ((f"player:{i}", s, None) for i, s in enumerate(scores)))
    ctx.record("rebuild 1M members: end to end", "ours", result.rate, f"members/s ({result.seconds:.1f} s)")
    ctx.record("rebuild 1M members: Redis-side", "ours", redis_side(result.members), "members/s")
    dense = Leaderboard("bench-dense", ranking="dense")
    client.config_resetstat()
    result_dense = rebuild(dense, ((f"player:{i}", s, None) for i, s in enumerate(scores)))
    ctx.record("rebuild 1M, dense companions: end to end", "ours", result_dense.rate, "members/s")
    ctx.record("rebuild 1M, dense companions: Redis-side", "ours", redis_side(result_dense.members), "members/s")

    # the competitor's layout, filled directly (its own writes fail on redis-py 8)
    bare = ctx.redis()
    timed = ctx.redis(socket_timeout=2.0, socket_connect_timeout=1.0)
    started = time.perf_counter()
    pipe = bare.pipeline(transaction=False)
    for i in range(0, n, 10_000):
        pipe.zadd(PYPI_KEY, {f"player:{j}": scores[j] for j in range(i, min(n, i + 10_000))})
    pipe.execute()
    ctx.record(
        "fill 1M members with plain ZADD batches", "bare redis-py", n / (time.perf_counter() - started), "members/s"
    )

    memory = client.memory_usage(ours.base_key, samples=0)
    ctx.record("memory per member (all-time board)", "ours", memory / n, "bytes")
    ctx.record(
        "memory per member (dense: + companions)",
        "ours",
        sum(client.memory_usage(dense.base_key + sfx, samples=0) or 0 for sfx in ("", ":ds", ":dn")) / n,
        "bytes",
    )

    pypi = CompetitionRankingLeaderboard(PYPI_KEY, connection=bare, page_size=PAGE)
    pypi_plain = PypiLeaderboard(PYPI_KEY, connection=bare, page_size=PAGE)
    middle_page = n // PAGE // 2
    member = f"player:{n // 3}"
    rng = random.Random(11)
    members = [f"player:{rng.randrange(n)}" for _ in range(1000)]
    cycle = iter(members * 1000)

    # sanity: all three agree on the answers before being timed
    page_ours = ours.page(middle_page, PAGE).object_list
    page_pypi = pypi.leaders(middle_page)
    assert [(e.rank, e.score) for e in page_ours] == [(r["rank"], int(r["score"])) for r in page_pypi]
    assert ours.rank_of(member) == pypi.rank_for(member)

    def bare_page() -> list[tuple[int, float, bytes]]:
        start = (middle_page - 1) * PAGE
        # the page, then the first row's competition rank
        rows = bare.zrevrange(PYPI_KEY, start, start + PAGE - 1, withscores=True)
        first = bare.zcount(PYPI_KEY, f"({rows[0][1]}", "+inf") + 1
        out, rank = [], first
        for i, (m, s) in enumerate(rows):
            if i and s != rows[i - 1][1]:
                rank = start + i + 1
            out.append((rank, s, m))
        return out

    ctx.compare(
        "page of 25 with competition ranks (1M board)",
        {
            "ours: board.page()": lambda: ours.page(middle_page, PAGE),
            "leaderboard (PyPI) CompetitionRanking.leaders": lambda: pypi.leaders(middle_page),
            "bare redis-py: ZREVRANGE + ZCOUNT": bare_page,
        },
        number=300,
        notes={"ours: board.page()": "1 round trip (Lua)", "bare redis-py: ZREVRANGE + ZCOUNT": "2 round trips"},
    )

    def bare_around() -> list[tuple[bytes, float]]:
        rank = bare.zrevrank(PYPI_KEY, member)
        return bare.zrevrange(PYPI_KEY, max(0, rank - 5), rank + 5, withscores=True)  # type: ignore[no-any-return]

    ctx.compare(
        "around(member, 5) with ranks (1M board)",
        {
            "ours: board.around()": lambda: ours.around(member, 5),
            "leaderboard (PyPI) CompetitionRanking.around_me": lambda: pypi.around_me(member, page_size=11),
            "bare redis-py: ZREVRANK + ZREVRANGE (no tie ranks)": bare_around,
        },
        number=300,
    )

    ordinal = Leaderboard("bench", ranking="ordinal")  # the same keys, read with plain positions
    ctx.compare(
        "rank_of(member) (1M board)",
        {
            "ours: ordinal rank_of (ZRANK)": lambda: ordinal.rank_of(next(cycle)),
            "bare redis-py: ZREVRANK": lambda: bare.zrevrank(PYPI_KEY, next(cycle)),
            # the same command on a client with the socket timeouts every get_redis() client has
            "bare redis-py with 2 s socket timeout: ZREVRANK": lambda: timed.zrevrank(PYPI_KEY, next(cycle)),
            "leaderboard (PyPI) Leaderboard.rank_for": lambda: pypi_plain.rank_for(next(cycle)),
        },
        number=1500,
    )
    ctx.compare(
        "competition rank_of(member) (1M board)",
        {
            "ours: competition rank_of (Lua)": lambda: ours.rank_of(next(cycle)),
            "leaderboard (PyPI) CompetitionRanking.rank_for": lambda: pypi.rank_for(next(cycle)),
            "bare redis-py: ZSCORE, then ZCOUNT": lambda: (
                bare.zcount(PYPI_KEY, f"({bare.zscore(PYPI_KEY, next(cycle))}", "+inf") + 1
            ),
        },
        number=1500,
    )
    ctx.compare(
        "score_and_rank(member) (1M board)",
        {
            "ours: competition score_and_rank": lambda: ours.score_and_rank(next(cycle)),
            "leaderboard (PyPI) CompetitionRanking.score_and_rank_for": lambda: pypi.score_and_rank_for(next(cycle)),
        },
        number=1500,
    )
    ctx.compare(
        "dense page of 25 (1M board)",
        {
            "ours: dense board.page()": lambda: dense.page(middle_page, PAGE),
            "leaderboard (PyPI) CompetitionRanking.leaders": lambda: pypi.leaders(middle_page),
        },
        number=300,
        notes={"ours: dense board.page()": "TieRankingLeaderboard needs ~27 round trips per page; not timed"},
    )
    client.flushdb(asynchronous=True)
