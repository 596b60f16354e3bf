"""``Leaderboard(name, shards=K)``: one board spread over K sorted sets on different slots.

Each shard is an ordinary board named ``<name>#<i>`` (keys ``lb:{<name>#<i>}``), so on a
Cluster the shards land on different primaries and writes scale with K. A member lives on
shard ``crc32(member) % K``:

* writes and ``score_of``: one script call / command on the member's shard;
* ``count``: ZCARD on every shard, one pipelined fan-out;
* ``rank_of``/``score_and_rank``: the score from the member's shard, then one fan-out of
  ZCOUNT (strictly better) per shard, plus the tied members' names for ordinal ranks:
  two round trips;
* ``top``/``page``: ZRANGE of the first ``offset + per_page`` rows on every shard in one
  fan-out, merged; exact ranks (every better score is among the merged rows), cost grows
  with the offset;
* ``around``: the member's score, then each shard's nearest rows on both sides and the
  ties, merged, then one fan-out of ZCOUNTs for the competition ranks: three round trips.

Shipped for ``competition`` and ``ordinal`` all-time boards; ``dense`` ranking, periods and
partitions need a global view of distinct scores or more keys per shard and are refused.
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.paginator import Page, Paginator

from django_redis_patterns.client import connections
from django_redis_patterns.exceptions import ImproperlyConfigured

from . import scores
from .board import _OUTAGES, Entry, Leaderboard, _failed, _member, _page_number, _per_page, _recovered
from .scores import LeaderboardError, Score


class ShardedLeaderboard:
    """See the module docs. Built by ``Leaderboard(name, shards=K)`` with K > 1."""

    def __init__(self, name: str, *, shards: int, **options: Any):
        if not isinstance(shards, int) or isinstance(shards, bool) or not 2 <= shards <= 1024:
            raise ImproperlyConfigured(f"Leaderboard shards must be an int in 2..1024, got {shards!r}")
        if options.get("ranking", "competition") == "dense":
            raise ImproperlyConfigured("a sharded Leaderboard supports ranking 'competition' or 'ordinal', not 'dense'")
        if options.get("periods") or options.get("partitioned"):
            raise ImproperlyConfigured("a sharded Leaderboard does not support periods or partitions")
        self.name = name
        self.shards = [Leaderboard(f"{name}#{i}", **options) for i in range(shards)]
        first = self.shards[0]
        self.ranking = first.ranking
        self.order = first.order
        self.descending = first.descending
        self.using = first.using

    def __repr__(self) -> str:
        return f"<ShardedLeaderboard {self.name!r} x{len(self.shards)} {self.order} {self.ranking}>"

    @property
    def alias(self) -> str:
        """The cache alias the shards use."""
        return self.shards[0].alias

    def shard_of(self, member: Any) -> Leaderboard:
        """The shard holding ``member`` (``crc32(member) % K``)."""
        name = _member(member)
        return self.shards[zlib.crc32(name.encode()) % len(self.shards)]

    # -- writes: one script call on the member's shard -------------------------------------
    def set_score(self, member: Any, score: Score, **kw: Any) -> Score:
        """Set the member's score on its shard."""
        return self.shard_of(member).set_score(member, score, **kw)

    def incr(self, member: Any, amount: Score = 1, **kw: Any) -> Score:
        """Add ``amount`` to the member's score on its shard."""
        return self.shard_of(member).incr(member, amount, **kw)

    def set_score_if_better(self, member: Any, score: Score, **kw: Any) -> Score:
        """Keep the better of the current and the given score, on the member's shard."""
        return self.shard_of(member).set_score_if_better(member, score, **kw)

    def remove(self, member: Any, **kw: Any) -> None:
        """Remove the member from its shard."""
        self.shard_of(member).remove(member, **kw)

    def delete(self) -> None:
        """Delete every shard's keys."""
        for shard in self.shards:
            shard.delete()

    # -- fan-out ------------------------------------------------------------------------
    def _fan_out(self, commands: Sequence[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> list[Any]:
        """Run (method, args, kwargs) commands in one pipeline (per node on Cluster, in parallel)."""
        try:
            pipe = connections.get_redis(self.alias).pipeline(transaction=False)
            for method, args, kwargs in commands:
                getattr(pipe, method)(*args, **kwargs)
            replies = pipe.execute()
        except _OUTAGES as exc:
            raise _failed(self.alias, "sharded leaderboard read", exc) from exc
        _recovered(self.alias)
        return replies  # type: ignore[no-any-return]

    def count(self) -> int:
        """How many members all shards hold (one fan-out of ``ZCARD``)."""
        return sum(int(n) for n in self._fan_out([("zcard", (s.key,), {}) for s in self.shards]))

    def score_of(self, member: Any) -> Score | None:
        """The member's score, from its shard (one command)."""
        return self.shard_of(member).score_of(member)

    def _stored(self, member: Any) -> str | None:
        shard = self.shard_of(member)
        try:
            raw = shard.client().zscore(shard.key, _member(member))
        except _OUTAGES as exc:
            raise _failed(self.alias, "ZSCORE", exc) from exc
        return None if raw is None else scores.encode(scores.decode(raw, False), False)

    def _position(self, member: str, stored: str) -> tuple[int, int]:
        """(members strictly better, members tied and ordered before ``member``)."""
        commands: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        for shard in self.shards:
            commands.append(("zcount", (shard.key, "-inf", f"({stored}"), {}))
            if self.ranking == "ordinal":
                commands.append(("zrange", (shard.key, stored, stored), {"byscore": True}))
        replies = self._fan_out(commands)
        if self.ranking == "ordinal":
            better = sum(int(r) for r in replies[0::2])
            tied = sum(1 for group in replies[1::2] for m in group if m < member.encode())
            return better, tied
        return sum(int(r) for r in replies), 0

    def score_and_rank(self, member: Any) -> tuple[Score | None, int | None]:
        """``(score, rank)`` of the member: its score, then every shard's better-count (2 round trips)."""
        name = _member(member)
        stored = self._stored(name)
        if stored is None:
            return None, None
        better, tied = self._position(name, stored)
        return scores.decode(stored, self.descending), better + tied + 1

    def rank_of(self, member: Any) -> int | None:
        """The member's rank across all shards (2 round trips)."""
        return self.score_and_rank(member)[1]

    def percentile_of(self, member: Any) -> float | None:
        """Percentage of members scoring the same or worse, across all shards."""
        name = _member(member)
        stored = self._stored(name)
        if stored is None:
            return None
        commands: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
            ("zcount", (s.key, "-inf", f"({stored}"), {}) for s in self.shards
        ]
        commands += [("zcard", (s.key,), {}) for s in self.shards]
        replies = self._fan_out(commands)
        k = len(self.shards)
        better, total = sum(replies[:k]), sum(replies[k:])
        return 100.0 * (total - better) / total

    # -- ranges -------------------------------------------------------------------------
    def _merge(self, groups: Iterable[list[tuple[bytes, float]]]) -> list[tuple[float, bytes]]:
        return list(heapq.merge(*[[(score, member) for member, score in g] for g in groups]))

    def _ranked(self, rows: list[tuple[float, bytes]], first_position: int, first_rank: int) -> list[Entry]:
        out: list[Entry] = []
        rank = first_rank
        for i, (stored, member) in enumerate(rows):
            if i and (self.ranking == "ordinal" or stored != rows[i - 1][0]):
                rank = first_position + i + 1
            out.append(Entry(rank, scores.decode(stored, self.descending), member.decode()))
        return out

    def _prefix(self, stop: int) -> list[tuple[float, bytes]]:
        """The first ``stop`` rows of the whole board, in rank order."""
        groups = self._fan_out([("zrange", (s.key, 0, stop - 1), {"withscores": True}) for s in self.shards])
        return self._merge(groups)[:stop]

    def _prefix_entries(self, start: int, stop: int) -> list[Entry]:
        rows = self._prefix(stop)
        if start >= len(rows):
            return []
        # the merged prefix holds every row before ``start``: the first row's rank is exact
        first = start
        if self.ranking == "competition":
            while first > 0 and rows[first - 1][0] == rows[start][0]:
                first -= 1
        return self._ranked(rows[start:], start, first + 1)

    def top(self, n: int = 10) -> list[Entry]:
        """The first ``n`` entries, merged from every shard with exact ranks."""
        if not isinstance(n, int) or n < 0:
            raise LeaderboardError(f"n must be a non-negative int, got {n!r}")
        return self._prefix_entries(0, n) if n else []

    def page(self, number: int | str = 1, per_page: int = 25) -> Page:
        """One page of entries, merged from every shard (a ``Page``)."""
        number, per_page = _page_number(number), _per_page(per_page)
        start = (number - 1) * per_page
        entries = self._prefix_entries(start, start + per_page)
        paginator: Paginator = Paginator(_Counted(self.count()), per_page)  # type: ignore[arg-type]
        paginator.validate_number(number)
        return Page(entries, number, paginator)

    def around(self, member: Any, n: int = 5) -> list[Entry]:
        """The member and ``n`` rows either side, with competition ranks (3 round trips)."""
        if not isinstance(n, int) or n < 0:
            raise LeaderboardError(f"n must be a non-negative int, got {n!r}")
        name = _member(member)
        stored = self._stored(name)
        if stored is None:
            return []
        commands: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        for s in self.shards:
            commands.append(("zcount", (s.key, "-inf", f"({stored}"), {}))
            commands.append(("zrange", (s.key, stored, stored), {"byscore": True, "withscores": True}))
            commands.append(
                (
                    "zrange",
                    (s.key, f"({stored}", "-inf"),
                    {"byscore": True, "desc": True, "offset": 0, "num": n, "withscores": True},
                )
            )
            commands.append(
                ("zrange", (s.key, f"({stored}", "+inf"), {"byscore": True, "offset": 0, "num": n, "withscores": True})
            )
        replies = self._fan_out(commands)
        better = sum(int(r) for r in replies[0::4])
        rows = self._merge([*replies[1::4], *[list(reversed(g)) for g in replies[2::4]], *replies[3::4]])
        me = rows.index((float(stored), name.encode()))
        window = rows[max(0, me - n) : me + n + 1]
        ties_before = sum(1 for score, m in rows[:me] if score == float(stored))
        first_position = better + ties_before - (me - max(0, me - n))
        if self.ranking == "ordinal":
            return self._ranked(window, first_position, first_position + 1)
        # competition: 1 + members strictly better, per distinct score in the window
        distinct = sorted({score for score, _ in window})
        counts = self._fan_out(
            [
                ("zcount", (s.key, "-inf", f"({scores.encode(scores.decode(x, False), False)}"), {})
                for x in distinct
                for s in self.shards
            ]
        )
        k = len(self.shards)
        rank_of = {x: 1 + sum(int(c) for c in counts[i * k : (i + 1) * k]) for i, x in enumerate(distinct)}
        return [Entry(rank_of[stored_], scores.decode(stored_, self.descending), m.decode()) for stored_, m in window]


class _Counted:
    """A sized placeholder so Paginator knows the count without a second fan-out."""

    def __init__(self, n: int):
        self.n = n

    def count(self) -> int:
        return self.n

    def __len__(self) -> int:
        return self.n
