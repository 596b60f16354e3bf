"""``Leaderboard``: a named board on a Redis sorted set, ranks exact in one round trip.

Keys (``<p>`` is ``REDIS_PATTERNS["LEADERBOARD"]["KEY_PREFIX"]``, default ``lb``)::

    <p>:{<name>}                        all-time board (sorted set of stored scores)
    <p>:{<name>}:p:<partition>          one partition's board
    <p>:{<name>}[:p:<part>]:<period>:<start>   period boards (daily:2026-11-27, weekly:<Monday>, monthly:2026-11)
    <board key>:ds / :dn                dense ranking: distinct scores (zset) / members per score (hash)
    <p>:{<name>}:pm / :parts            member -> partition (hash) / partitions in use (set)
    <p>:{<name>}:rebuilding / :meta     rebuild in progress / last rebuild

The ``{name}`` hash tag puts a board and all its companions in one Cluster slot, so every
write updates all of them in one script and a rebuild can RENAME its result into place.

Ranking modes: ``competition`` (1224), ``dense`` (1223), ``ordinal`` (1234; equal scores
ordered by member, ascending byte order, in both board orders).
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

import redis.exceptions
from django.core.paginator import Page, Paginator

from django_redis_patterns import conf as core_conf
from django_redis_patterns.client import connections, instrument, scripts
from django_redis_patterns.exceptions import ImproperlyConfigured, RedisUnavailable

from . import periods as periods_mod
from . import scores
from .conf import get as get_settings
from .scores import InvalidScore, LeaderboardError, Score

logger = logging.getLogger("django_redis_patterns.leaderboard")

Ranking = Literal["competition", "dense", "ordinal"]
Order = Literal["desc", "asc"]
RANKINGS = ("competition", "dense", "ordinal")
PACKAGE = "django_redis_patterns.leaderboard"


def composed_script(name: str) -> scripts.Script:
    """``lua/<name>.lua`` with ``lua/family.lua`` pasted where it says ``--#include family.lua``:
    Redis scripts cannot include files, and the write and rebuild scripts share its logic."""
    folder = resources.files(PACKAGE).joinpath("lua")
    source = folder.joinpath(f"{name}.lua").read_text("utf-8")
    library = folder.joinpath("family.lua").read_text("utf-8")
    if "--#include family.lua\n" not in source:
        raise ImproperlyConfigured(f"{PACKAGE}/lua/{name}.lua does not include family.lua")
    return scripts.Script(name, package=PACKAGE, source=source.replace("--#include family.lua\n", library, 1))


_write = composed_script("write")
_read = scripts.load("read", package=PACKAGE)

#: ``partition=KEEP`` (the default of writes): leave the member in its current partition.
KEEP: Any = object()


class LeaderboardUnavailable(RedisUnavailable, LeaderboardError, redis.exceptions.ConnectionError):
    """Redis could not be reached for a leaderboard operation.

    Also ``redis.exceptions.ConnectionError``, what code around hand-written sorted sets catches."""


class BoardMissing(LeaderboardError):
    """Redis does not hold this board (its marker is missing: Redis lost its data, or the board
    was never built) and it was not rebuilt for this read: self-healing is off for it, or
    another process's rebuild did not finish within ``HEAL_WAIT`` seconds."""

    def __init__(self, message: str, *, board: str):
        super().__init__(message)
        self.board = board


#: The read script's reply when the marker its caller named is missing.
_MISSING = "LEADERBOARD board missing"


@dataclass(slots=True)
class Entry:
    """One row of a board. On a model's board ``obj`` is the model instance, and attributes
    the entry lacks are read from it (``entry.name`` works in templates)."""

    rank: int
    score: Score
    member: str
    obj: Any = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        obj = object.__getattribute__(self, "obj")
        if obj is None:
            raise AttributeError(name)
        return getattr(obj, name)


# -- failure reporting: once per incident and alias ----------------------------------
_down: set[str] = set()
_down_lock = threading.Lock()


def _failed(alias: str, command: str, exc: Exception) -> LeaderboardUnavailable:
    with _down_lock:
        first = alias not in _down
        _down.add(alias)
    if first:
        logger.warning("leaderboard: Redis (alias %r) unreachable during %s: %s", alias, command, exc)
    error = LeaderboardUnavailable(
        f"leaderboard: Redis (alias {alias!r}) unreachable during {command}: {exc}", alias=alias, command=command
    )
    error.__cause__ = exc
    return error


def _recovered(alias: str) -> None:
    if alias in _down:
        with _down_lock:
            if alias not in _down:
                return
            _down.discard(alias)
        logger.info("leaderboard: Redis (alias %r) reachable again", alias)


_OUTAGES = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)

# Redis >= 7.2 answers ZRANK ... WITHSCORE (score and rank in one command); probed once per server.
_withscore: dict[Any, bool] = {}


def node_client(client: Any, key: str) -> Any:
    """A client for pipelining scripts on one board: on Cluster, the primary owning the board's
    slot (redis-py's cluster pipeline refuses EVALSHA; every key of a board shares that slot)."""
    if connections.is_cluster(client):
        return client.get_redis_connection(client.get_node_from_key(key))
    return client


@dataclass(slots=True)
class _Call:
    """One round trip: how to send it (sync or async client) and how to read the reply."""

    command: str
    send: Callable[[Any, bool], Any]
    parse: Callable[[Any], Any]


_WRITES = frozenset({"set", "incr", "best", "remove"})


def _op_of(call: _Call) -> tuple[str, str]:
    """("sync" for a write, else "read"; the operation's name) of a call."""
    name = call.command.split(" ", 1)[1] if call.command.startswith("leaderboard ") else call.command.lower()
    return ("sync" if name in _WRITES else "read"), name


def _report(board: Leaderboard, kind: str, name: str, result: Any) -> None:
    """A write ("sync": the board follows its source) or a read, with how many entries it returned."""
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], list):
        result = result[1]  # (board size, entries)
    size = len(result) if isinstance(result, list) else None
    instrument.emit("leaderboard", kind, board.alias, board=board.name, operation=name, size=size)


def _member(value: Any, argument: str = "member") -> str:
    if isinstance(value, bytes):
        try:
            value = value.decode()
        except UnicodeDecodeError as exc:
            # a TypeError (as for any other unusable type), naming the argument, not a codec trace
            raise TypeError(f"{argument} must be a str, an int or UTF-8 bytes, got {value!r} ({exc.reason})") from None
    if isinstance(value, str):
        if not value:
            raise LeaderboardError(f"{argument} must not be empty")
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise LeaderboardError(f"{argument} must be a str or int, got {type(value).__name__} {value!r}")


def _partition_value(value: Any) -> str:
    text = _member(value, "partition")
    # ":" separates key parts; escape it (and the escape character) so values cannot collide.
    return text.replace("%", "%25").replace(":", "%3A")


class Leaderboard:
    """A board. Views for one partition or one period come from :meth:`partition` and
    :meth:`period`; they share the board's keys and configuration.

    ``shards=K`` (K > 1) builds a :class:`~.sharded.ShardedLeaderboard` instead: one board
    spread over K slots (see ``sharded.py`` for what it supports)."""

    def __new__(cls, *args: Any, shards: int = 1, **kwargs: Any) -> Any:
        if shards != 1:
            from .sharded import ShardedLeaderboard

            return ShardedLeaderboard(*args, shards=shards, **kwargs)
        return super().__new__(cls)

    def __init__(
        self,
        name: str,
        *,
        using: str | None = None,
        order: Order = "desc",
        ranking: Ranking = "competition",
        periods: Sequence[str] = (),
        partitioned: bool = False,
        key_prefix: str | None = None,
        period_scores: str = "same",
        shards: int = 1,
    ):
        if not isinstance(name, str) or not name or any(c in name for c in "{}"):
            raise ImproperlyConfigured(f"Leaderboard name must be a non-empty str without braces, got {name!r}")
        if order not in ("desc", "asc"):
            raise ImproperlyConfigured(f"Leaderboard order must be 'desc' or 'asc', got {order!r}")
        if ranking not in RANKINGS:
            raise ImproperlyConfigured(f"Leaderboard ranking must be one of {', '.join(RANKINGS)}, got {ranking!r}")
        if isinstance(periods, str):
            raise ImproperlyConfigured("Leaderboard periods must be a list, e.g. ['weekly']")
        for kind in periods:
            if kind not in periods_mod.KINDS:
                raise ImproperlyConfigured(
                    f"Leaderboard periods must be among {', '.join(periods_mod.KINDS)}, got {kind!r}"
                )
        if period_scores not in ("same", "gain"):
            raise ImproperlyConfigured(f"Leaderboard period_scores must be 'same' or 'gain', got {period_scores!r}")
        self.period_scores = period_scores
        self.name = name
        self.using = using
        self.order: Order = order
        self.ranking: Ranking = ranking
        self.periods = tuple(dict.fromkeys(periods))
        self.partitioned = partitioned
        self._key_prefix = key_prefix
        self._base_key_cache: tuple[Any, str] | None = None
        # view state
        self._partition: str | None = None
        self._period: str | None = None
        self._at: int | None = None

    def __repr__(self) -> str:
        view = ""
        if self._partition is not None:
            view += f" partition={self._partition!r}"
        if self._period is not None:
            view += f" period={self._period!r}" + (f" at={self._at}" if self._at is not None else "")
        return f"<{type(self).__name__} {self.name!r} {self.order} {self.ranking}{view}>"

    # -- configuration ---------------------------------------------------------------
    @property
    def descending(self) -> bool:
        """Whether a higher score ranks first (``order="desc"``)."""
        return self.order == "desc"

    @property
    def alias(self) -> str:
        """The cache alias this board uses."""
        return core_conf.default_alias(self.using, "LEADERBOARD")

    @property
    def base_key(self) -> str:
        """The board's all-time key, ``<KEY_PREFIX>:{<name>}``."""
        settings = get_settings()  # a cached object, replaced when the settings change
        cached = self._base_key_cache
        if cached is not None and cached[0] is settings:
            return cached[1]
        prefix = self._key_prefix if self._key_prefix is not None else settings.KEY_PREFIX
        key = f"{prefix}:{{{self.name}}}"
        self._base_key_cache = (settings, key)
        return key

    @property
    def key(self) -> str:
        """The sorted set this view reads, when it is not a period view."""
        if self._period is not None:
            raise LeaderboardError("a period board's key depends on the time; it is resolved in Redis")
        if self._partition is None:
            return self.base_key
        return f"{self.base_key}:p:{self._partition}"

    def client(self) -> Any:
        """The redis-py client of the board's alias."""
        return connections.get_redis(self.alias)

    async def aclient(self) -> Any:
        """The ``redis.asyncio`` client of the board's alias for the running loop."""
        return await connections.aget_redis(self.alias)

    @property
    def dense(self) -> bool:
        """Whether the board ranks densely (keeps the distinct-score companions)."""
        return self.ranking == "dense"

    @property
    def partition_value(self) -> str | None:
        """This view's partition (escaped as in keys), or None for the global board."""
        return self._partition

    @property
    def period_kind(self) -> str | None:
        """``"daily"``, ``"weekly"``, ``"monthly"`` for a period view, else ``None``."""
        return self._period

    # -- views ---------------------------------------------------------------------
    def _view(self, **changes: Any) -> Leaderboard:
        view = copy.copy(self)
        for name, value in changes.items():
            setattr(view, name, value)
        return view

    def partition(self, value: Any) -> Leaderboard:
        """The board of one partition (``None``: the global board)."""
        if value is None:
            return self._view(_partition=None)
        if not self.partitioned:
            raise ImproperlyConfigured(f"{self!r} is not partitioned (pass partitioned=True)")
        return self._view(_partition=_partition_value(value))

    def period(self, kind: str, at: dt.date | dt.datetime | int | float | None = None) -> Leaderboard:
        """The ``kind`` board containing ``at`` (default: now, by Redis's clock)."""
        if kind not in self.periods:
            raise ImproperlyConfigured(
                f"{self!r} keeps periods {list(self.periods)}; period({kind!r}) is not one of them"
            )
        return self._view(_period=kind, _at=None if at is None else periods_mod.timestamp(at))

    def all_time(self) -> Leaderboard:
        """This board without its period view."""
        return self._view(_period=None, _at=None)

    # -- running calls ---------------------------------------------------------------
    def _run(self, call: _Call) -> Any:
        if instrument.LISTENERS:
            kind, name = _op_of(call)
            with instrument.operation("leaderboard", name, alias=self.alias, board=self.name):
                result = self._run_unobserved(call)
            _report(self, kind, name, result)
            return result
        return self._run_unobserved(call)

    def _run_unobserved(self, call: _Call) -> Any:
        alias = self.alias
        for attempt in range(2):
            try:
                reply = call.send(connections.get_redis(alias), False)
            except _OUTAGES as exc:
                raise _failed(alias, call.command, exc) from exc
            except redis.exceptions.ResponseError as exc:
                if _MISSING not in str(exc):
                    raise self._response_error(exc) from exc
                _recovered(alias)
                if attempt:  # lost again right after it came back: say so, do not loop
                    raise self._missing("it was lost again right after its rebuild") from None
                self._heal(str(exc))
                continue
            _recovered(alias)
            return call.parse(reply)

    async def _arun(self, call: _Call) -> Any:
        if instrument.LISTENERS:
            kind, name = _op_of(call)
            async with instrument.operation("leaderboard", name, alias=self.alias, board=self.name):
                result = await self._arun_unobserved(call)
            _report(self, kind, name, result)
            return result
        return await self._arun_unobserved(call)

    async def _arun_unobserved(self, call: _Call) -> Any:
        alias = self.alias
        for attempt in range(2):
            try:
                reply = await call.send(await connections.aget_redis(alias), True)
            except _OUTAGES as exc:
                raise _failed(alias, call.command, exc) from exc
            except redis.exceptions.ResponseError as exc:
                if _MISSING not in str(exc):
                    raise self._response_error(exc) from exc
                _recovered(alias)
                if attempt:
                    raise self._missing("it was lost again right after its rebuild") from None
                await self._aheal(str(exc))
                continue
            _recovered(alias)
            return call.parse(reply)

    # -- self-healing: only boards with a source (model boards) guard their reads ----------
    @property
    def guarded(self) -> bool:
        """Whether reads check the board's marker (``<base>:meta``) in the same call."""
        return False

    @property
    def marker_key(self) -> str:
        """Written by a full rebuild: "Redis holds this board" (even when it is empty)."""
        return self.base_key + ":meta"

    def _missing(self, why: str) -> BoardMissing:
        return BoardMissing(
            f"leaderboard {self.name!r}: Redis does not hold this board (its marker {self.marker_key} is missing: "
            f"Redis lost its data, or the board was never built); {why}",
            board=self.name,
        )

    def _heal(self, reply: str = "") -> None:
        """A read found the board missing (``reply``: the read script's error, naming the
        period when a period board is missing): rebuild it, or raise :class:`BoardMissing`."""
        raise self._missing("it has no source to rebuild it from")

    async def _aheal(self, reply: str = "") -> None:
        raise self._missing("it has no source to rebuild it from")

    def _response_error(self, exc: Exception) -> Exception:
        if "exact range" in str(exc):
            return InvalidScore(str(exc).split("LEADERBOARD ", 1)[-1])
        return exc

    def _script(self, script: scripts.Script, args: Sequence[scripts.ArgT]) -> Callable[[Any, bool], Any]:
        keys = [self.base_key]
        return lambda client, is_async: (script.acall if is_async else script)(client, keys, args)

    def _reader(self, args: Sequence[scripts.ArgT]) -> Callable[[Any, bool], Any]:
        """The read script; a guarded board also names its marker, checked in the same call."""
        keys = [self.base_key, self.marker_key] if self.guarded else [self.base_key]
        return lambda client, is_async: (_read.acall if is_async else _read)(client, keys, args)

    # -- writes ------------------------------------------------------------------------
    def _partition_arg(self, partition: Any) -> str:
        if partition is KEEP:
            partition = KEEP if self._partition is None else self._partition
            if partition is KEEP:
                return "k"
            return "v" + partition
        if partition is None:
            return "n"
        if not self.partitioned:
            raise ImproperlyConfigured(f"{self!r} is not partitioned; partition= is not accepted")
        return "v" + _partition_value(partition)

    def write_args(self, op: str, member: Any, value: str, partition: Any = KEEP, at: Any = None) -> list[scripts.ArgT]:
        """ARGV of the write script (shared by single writes, syncs and async twins)."""
        return [
            op,
            _member(member),
            value,
            "1" if self.dense else "0",
            ",".join(self.periods),
            "" if at is None else periods_mod.timestamp(at),
            get_settings().PERIOD_RETAIN,
            self._partition_arg(partition) if self.partitioned or partition is not KEEP else "-",
            self.period_scores,
        ]

    def _write_call(self, op: str, member: Any, value: str, partition: Any, at: Any) -> _Call:
        args = self.write_args(op, member, value, partition, at)
        descending = self.descending
        return _Call(
            f"leaderboard {op}",
            self._script(_write, args),
            lambda reply: None if reply is None else scores.decode(reply, descending),
        )

    def _set_call(self, member: Any, score: Any, partition: Any, at: Any) -> _Call:
        return self._write_call("set", member, scores.encode(scores.check(score), self.descending), partition, at)

    def _incr_call(self, member: Any, amount: Any, partition: Any, at: Any) -> _Call:
        return self._write_call(
            "incr", member, scores.encode(scores.check(amount, "amount"), self.descending), partition, at
        )

    def _best_call(self, member: Any, score: Any, partition: Any, at: Any) -> _Call:
        return self._write_call("best", member, scores.encode(scores.check(score), self.descending), partition, at)

    def set_score(self, member: Any, score: Score, *, partition: Any = KEEP, at: Any = None) -> Score:
        """Set ``member``'s score on the board, its partition board and the current periods."""
        return self._run(self._set_call(member, score, partition, at))  # type: ignore[no-any-return]

    def incr(self, member: Any, amount: Score = 1, *, partition: Any = KEEP, at: Any = None) -> Score:
        """Add ``amount`` (period boards get the amount earned in the period). Returns the new score."""
        return self._run(self._incr_call(member, amount, partition, at))  # type: ignore[no-any-return]

    def set_score_if_better(self, member: Any, score: Score, *, partition: Any = KEEP, at: Any = None) -> Score:
        """Keep the better of the current and ``score`` (ZADD LT on the stored form, atomic).

        Returns the member's score after the call. Period boards keep the period's best."""
        return self._run(self._best_call(member, score, partition, at))  # type: ignore[no-any-return]

    def remove(self, member: Any, *, at: Any = None) -> None:
        """Remove ``member`` from the board, its partition board and the current periods
        (finished periods keep their history)."""
        self._run(self._write_call("remove", member, "0", KEEP, at))

    async def aset_score(self, member: Any, score: Score, *, partition: Any = KEEP, at: Any = None) -> Score:
        """The async twin of :meth:`set_score`, on ``redis.asyncio``."""
        return await self._arun(self._set_call(member, score, partition, at))  # type: ignore[no-any-return]

    async def aincr(self, member: Any, amount: Score = 1, *, partition: Any = KEEP, at: Any = None) -> Score:
        """The async twin of :meth:`incr`, on ``redis.asyncio``."""
        return await self._arun(self._incr_call(member, amount, partition, at))  # type: ignore[no-any-return]

    async def aset_score_if_better(self, member: Any, score: Score, *, partition: Any = KEEP, at: Any = None) -> Score:
        """The async twin of :meth:`set_score_if_better`, on ``redis.asyncio``."""
        return await self._arun(self._best_call(member, score, partition, at))  # type: ignore[no-any-return]

    async def aremove(self, member: Any, *, at: Any = None) -> None:
        """The async twin of :meth:`remove`, on ``redis.asyncio``."""
        await self._arun(self._write_call("remove", member, "0", KEEP, at))

    # -- reads -------------------------------------------------------------------------
    def _read_args(self, op: str, *extra: scripts.ArgT) -> list[scripts.ArgT]:
        return [
            op,
            self.ranking,
            self._partition or "",
            self._period_arg(),
            "" if self._at is None else self._at,
            *extra,
        ]

    def _period_arg(self) -> str:
        """The read script's period argument ("" for the all-time board)."""
        return self._period or ""

    def _rows(self, reply: list[Any]) -> tuple[int, list[Entry]]:
        # {count} or {count, first position, first rank, {member, score, ...}}: the hot path of
        # every page, kept lean (column-wise, no call per row). Ranks after the first are
        # numbered here as read.lua documents.
        count = int(reply[0])
        if len(reply) == 1:
            return count, []
        position, rank, rows = int(reply[1]), int(reply[2]), reply[3]
        raws = rows[1::2]
        descending = self.descending
        try:  # integral scores are the common case, and Redis prints them as plain digits
            values: list[Score] = [-int(r) for r in raws] if descending else [int(r) for r in raws]
        except ValueError:
            values = [scores.decode(r, descending) for r in raws]
        members = [m.decode() if isinstance(m, bytes) else m for m in rows[0::2]]
        dense, ordinal = self.ranking == "dense", self.ranking == "ordinal"
        ranks = [rank]
        prev = raws[0]
        for i in range(1, len(raws)):
            raw = raws[i]
            if ordinal or raw != prev:
                rank = rank + 1 if dense else position + i + 1
                prev = raw
            ranks.append(rank)
        return count, list(map(Entry, ranks, values, members))

    def _rows_call(self, op: str, *extra: scripts.ArgT) -> _Call:
        return _Call(f"leaderboard {op}", self._reader(self._read_args(op, *extra)), self._rows)

    def _range_call(self, start: int, stop: int) -> _Call:
        return self._rows_call("range", start, stop)

    def _around_call(self, member: Any, n: int, fill: bool) -> _Call:
        if not isinstance(n, int) or n < 0:
            raise LeaderboardError(f"n must be a non-negative int, got {n!r}")
        return self._rows_call("around", self._member_of(member), n, "1" if fill else "0")

    def _by_score_call(self, min: Any, max: Any, offset: int, limit: int | None) -> _Call:
        low = None if min is None else scores.encode(scores.check(min, "min"), self.descending)
        high = None if max is None else scores.encode(scores.check(max, "max"), self.descending)
        if self.descending:  # stored = -score: the bounds swap
            low, high = high, low
        return self._rows_call(
            "score",
            "-inf" if low is None else low,
            "+inf" if high is None else high,
            offset,
            -1 if limit is None else limit,
        )

    def _member_of(self, member: Any) -> str:
        return _member(member)

    def _score_rank_parse(self, reply: list[Any]) -> tuple[Score | None, int | None]:
        if not reply or reply[0] is None:
            return None, None
        return scores.decode(reply[0], self.descending), int(reply[1])

    def _direct_key(self) -> str | None:
        """The key when Python can name it (not a period view): lets plain commands replace Lua.
        None on a guarded board too: its reads go through the script, which checks the marker."""
        return None if self._period is not None or self.guarded else self.key

    def _score_and_rank_call(self, member: Any) -> _Call:
        name = self._member_of(member)
        key = self._direct_key()
        if key is not None and self.ranking == "ordinal" and self._has_withscore():
            descending = self.descending

            def parse(reply: Any) -> tuple[Score | None, int | None]:
                if reply is None:
                    return None, None
                return scores.decode(reply[1], descending), int(reply[0]) + 1

            return _Call("ZRANK WITHSCORE", lambda c, a: c.zrank(key, name, withscore=True), parse)
        return _Call("leaderboard member", self._reader(self._read_args("member", name)), self._score_rank_parse)

    def _rank_call(self, member: Any) -> _Call:
        name = self._member_of(member)
        key = self._direct_key()
        if key is not None and self.ranking == "ordinal":
            return _Call("ZRANK", lambda c, a: c.zrank(key, name), lambda r: None if r is None else int(r) + 1)
        call = self._score_and_rank_call(name)
        return _Call(call.command, call.send, lambda reply: call.parse(reply)[1])

    def _score_call(self, member: Any) -> _Call:
        name = self._member_of(member)
        key = self._direct_key()
        descending = self.descending
        if key is not None:
            return _Call(
                "ZSCORE",
                lambda c, a: c.zscore(key, name),
                lambda r: None if r is None else scores.decode(r, descending),
            )
        call = self._score_and_rank_call(name)
        return _Call(call.command, call.send, lambda reply: call.parse(reply)[0])

    def _count_call(self) -> _Call:
        key = self._direct_key()
        if key is not None:
            return _Call("ZCARD", lambda c, a: c.zcard(key), int)
        return _Call("leaderboard count", self._reader(self._read_args("count")), int)

    def _percentile_call(self, member: Any) -> _Call:
        def parse(reply: list[Any]) -> float | None:
            if reply[0] is None:
                return None
            better, count = int(reply[1]), int(reply[2])
            return 100.0 * (count - better) / count

        return _Call(
            "leaderboard percentile",
            self._reader(self._read_args("percentile", self._member_of(member))),
            parse,
        )

    def _has_withscore(self) -> bool:
        spec = connections.spec_for_alias(self.alias)
        known = _withscore.get(spec)
        if known is None:
            try:
                self.client().execute_command("ZRANK", self.base_key + ":probe", "x", "WITHSCORE")
                known = True
            except redis.exceptions.ResponseError:
                known = False
            except _OUTAGES:
                return False
            _withscore[spec] = known
        return known

    # public reads (each exactly one round trip)
    def score_of(self, member: Any) -> Score | None:
        """The member's score, or ``None`` when it is not on the board."""
        return self._run(self._score_call(member))  # type: ignore[no-any-return]

    def rank_of(self, member: Any) -> int | None:
        """1-based rank in this board's ranking mode; None when absent."""
        return self._run(self._rank_call(member))  # type: ignore[no-any-return]

    def score_and_rank(self, member: Any) -> tuple[Score | None, int | None]:
        """``(score, rank)`` of the member in one round trip; ``(None, None)`` when absent."""
        return self._run(self._score_and_rank_call(member))  # type: ignore[no-any-return]

    def top(self, n: int = 10) -> list[Entry]:
        """The first ``n`` entries in rank order (one round trip)."""
        if not isinstance(n, int) or n < 0:
            raise LeaderboardError(f"n must be a non-negative int, got {n!r}")
        if n == 0:
            return []
        return self._materialize(self._run(self._range_call(0, n - 1))[1])

    def entries(self, start: int, stop: int) -> tuple[int, list[Entry]]:
        """Rows at 0-based positions ``start``..``stop`` (inclusive) and the board's size."""
        count, rows = self._run(self._range_call(start, stop))
        return count, self._materialize(rows)

    def _paginator(self, count: int, per_page: int) -> Paginator:
        paginator: Paginator = Paginator(RankedList(self, count=count), per_page)  # type: ignore[arg-type]
        # The size came with the rows: fill Paginator.count (a cached_property) directly
        # instead of letting it introspect RankedList.count's signature on every page.
        paginator.__dict__["count"] = count
        return paginator

    def page(self, number: int | str = 1, per_page: int = 25) -> Page:
        """One page as a Django ``Page`` (``.object_list`` of entries, ``.paginator.num_pages``...)."""
        number = _page_number(number)
        per_page = _per_page(per_page)
        start = (number - 1) * per_page
        count, rows = self.entries(start, start + per_page - 1)
        paginator = self._paginator(count, per_page)
        paginator.validate_number(number)
        return Page(rows, number, paginator)

    def ranked(self) -> RankedList:
        """A sequence for ``django.core.paginator.Paginator(board.ranked(), 25)``."""
        return RankedList(self)

    def around(self, member: Any, n: int = 5, *, fill: bool = False) -> list[Entry]:
        """``member`` with ``n`` rows either side; ``fill=True`` keeps 2n+1 rows at the edges.
        An absent member gives []."""
        return self.around_entries(member, n, fill=fill)[1]

    def around_entries(self, member: Any, n: int = 5, *, fill: bool = False) -> tuple[int, list[Entry]]:
        """:meth:`around` and the board's size, in the same round trip ("#12 of 3,400" pages)."""
        count, rows = self._run(self._around_call(member, n, fill))
        return count, self._materialize(rows)

    def by_score(
        self, min: Score | None = None, max: Score | None = None, *, offset: int = 0, limit: int | None = None
    ) -> list[Entry]:
        """Members with ``min <= score <= max``, in rank order, with ranks."""
        return self._materialize(self._run(self._by_score_call(min, max, offset, limit))[1])

    def count(self) -> int:
        """How many members the board holds."""
        return self._run(self._count_call())  # type: ignore[no-any-return]

    def percentile_of(self, member: Any) -> float | None:
        """Percent of members scoring the same or worse (the leader gets 100.0)."""
        return self._run(self._percentile_call(member))  # type: ignore[no-any-return]

    def ranks_of(self, members: Iterable[Any]) -> dict[str, tuple[Score | None, int | None]]:
        """Score and rank of many members in one round trip."""
        names = [self._member_of(m) for m in members]
        if not names:
            return {}
        descending = self.descending

        def parse(reply: list[Any]) -> dict[str, tuple[Score | None, int | None]]:
            out: dict[str, tuple[Score | None, int | None]] = {}
            for i, name in enumerate(names):
                raw, rank = reply[2 * i], reply[2 * i + 1]
                out[name] = (None, None) if raw is None else (scores.decode(raw, descending), int(rank))
            return out

        return self._run(  # type: ignore[no-any-return]
            _Call("leaderboard members", self._reader(self._read_args("members", *names)), parse)
        )

    def position_of(self, member: Any) -> int | None:
        """0-based index of ``member`` in rank order (which page it is on); None when absent."""
        return self._run(  # type: ignore[no-any-return]
            _Call(
                "leaderboard position",
                self._reader(self._read_args("position", self._member_of(member))),
                lambda r: None if r is None else int(r),
            )
        )

    def partitions(self) -> list[str]:
        """Partition values that have (or had) members, sorted."""
        if self.guarded:
            names = self._run(_Call("leaderboard parts", self._reader(self._read_args("parts")), lambda r: r))
        else:
            key = self.base_key + ":parts"
            names = self._run(_Call("SMEMBERS", lambda c, a: c.smembers(key), lambda r: r))
        return sorted(n.decode().replace("%3A", ":").replace("%25", "%") for n in names)

    def histogram(self, bins: int = 20) -> tuple[int, Score | None, Score | None, list[int]]:
        """(count, lowest score, highest score, members per equal-width score bin, low to high)."""
        if not isinstance(bins, int) or not 1 <= bins <= 200:
            raise LeaderboardError(f"bins must be an int in 1..200, got {bins!r}")
        descending = self.descending

        def parse(reply: list[Any]) -> tuple[int, Score | None, Score | None, list[int]]:
            count = int(reply[0])
            if not count:
                return 0, None, None, [0] * bins
            lo, hi = scores.decode(reply[1], descending), scores.decode(reply[2], descending)
            counts = [int(c) for c in reply[3:]]
            if descending:  # stored order is reversed: report low score to high score
                lo, hi, counts = hi, lo, counts[::-1]
            return count, lo, hi, counts

        return self._run(  # type: ignore[no-any-return]
            _Call("leaderboard histogram", self._reader(self._read_args("histogram", bins)), parse)
        )

    # async twins of the reads
    async def ascore_of(self, member: Any) -> Score | None:
        """The async twin of :meth:`score_of`, on ``redis.asyncio``."""
        return await self._arun(self._score_call(member))  # type: ignore[no-any-return]

    async def arank_of(self, member: Any) -> int | None:
        """The async twin of :meth:`rank_of`, on ``redis.asyncio``."""
        return await self._arun(self._rank_call(member))  # type: ignore[no-any-return]

    async def ascore_and_rank(self, member: Any) -> tuple[Score | None, int | None]:
        """The async twin of :meth:`score_and_rank`, on ``redis.asyncio``."""
        call = _Call(
            "leaderboard member",
            self._reader(self._read_args("member", self._member_of(member))),
            self._score_rank_parse,
        )
        return await self._arun(call)  # type: ignore[no-any-return]

    async def atop(self, n: int = 10) -> list[Entry]:
        """The async twin of :meth:`top`, on ``redis.asyncio``."""
        if n <= 0:
            return []
        return await self._amaterialize((await self._arun(self._range_call(0, n - 1)))[1])

    async def apage(self, number: int | str = 1, per_page: int = 25) -> Page:
        """The async twin of :meth:`page`, on ``redis.asyncio``."""
        number = _page_number(number)
        per_page = _per_page(per_page)
        start = (number - 1) * per_page
        count, rows = await self._arun(self._range_call(start, start + per_page - 1))
        paginator = self._paginator(count, per_page)
        paginator.validate_number(number)
        return Page(await self._amaterialize(rows), number, paginator)

    async def aaround(self, member: Any, n: int = 5, *, fill: bool = False) -> list[Entry]:
        """The async twin of :meth:`around`, on ``redis.asyncio``."""
        return (await self.aaround_entries(member, n, fill=fill))[1]

    async def aaround_entries(self, member: Any, n: int = 5, *, fill: bool = False) -> tuple[int, list[Entry]]:
        """The async twin of :meth:`around_entries`, on ``redis.asyncio``."""
        count, rows = await self._arun(self._around_call(member, n, fill))
        return count, await self._amaterialize(rows)

    async def aby_score(
        self, min: Score | None = None, max: Score | None = None, *, offset: int = 0, limit: int | None = None
    ) -> list[Entry]:
        """The async twin of :meth:`by_score`, on ``redis.asyncio``."""
        return await self._amaterialize((await self._arun(self._by_score_call(min, max, offset, limit)))[1])

    async def acount(self) -> int:
        """The async twin of :meth:`count`, on ``redis.asyncio``."""
        return await self._arun(self._count_call())  # type: ignore[no-any-return]

    async def apercentile_of(self, member: Any) -> float | None:
        """The async twin of :meth:`percentile_of`, on ``redis.asyncio``."""
        return await self._arun(self._percentile_call(member))  # type: ignore[no-any-return]

    # -- hooks for model boards ---------------------------------------------------------
    def _materialize(self, rows: list[Entry]) -> list[Entry]:
        return rows

    async def _amaterialize(self, rows: list[Entry]) -> list[Entry]:
        return rows

    # -- maintenance -------------------------------------------------------------------
    def delete(self) -> None:
        """Drop every key of the board: all-time, partitions, companions and period boards."""
        from .rebuild import delete_board

        delete_board(self)


class RankedList:
    """The board as a sequence for Django's ``Paginator``: ``count()`` is one ZCARD, a slice
    is one ranked range read."""

    def __init__(self, board: Leaderboard, *, count: int | None = None):
        self.board = board
        self._count = count

    def count(self) -> int:
        """How many members the board holds (what ``Paginator`` asks first)."""
        if self._count is None:
            self._count = self.board.count()
        return self._count

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, int):
            rows = self[index : index + 1]
            if not rows:
                raise IndexError(index)
            return rows[0]
        start, stop, step = index.start or 0, index.stop, index.step
        if step not in (None, 1) or start < 0 or (stop is not None and stop < 0):
            raise LeaderboardError("RankedList supports only forward slices")
        if stop is not None and stop <= start:
            return []
        count, rows = self.board.entries(start, -1 if stop is None else stop - 1)
        self._count = count
        return rows


def _page_number(number: int | str) -> int:
    try:
        value = int(number)
    except (TypeError, ValueError):
        raise LeaderboardError(f"number must be a page number, got {number!r}") from None
    if value < 1:
        raise LeaderboardError(f"number must be >= 1, got {number!r}")
    return value


def _per_page(per_page: int) -> int:
    if not isinstance(per_page, int) or isinstance(per_page, bool) or not 1 <= per_page <= 10_000:
        raise LeaderboardError(f"per_page must be an int in 1..10000, got {per_page!r}")
    return per_page
