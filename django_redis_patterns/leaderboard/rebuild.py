"""Rebuild a board from its source of truth, and measure drift without changing anything.

``rebuild`` loads every row into ``<base>:rebuild`` in pipelined batches, then one script
renames the copy over the live board: readers see the old board until that instant and the
new one after it, never a partial one. Live writes during the rebuild are mirrored into the
copy, and the copy remembers which members they touched (``mirror`` in ``lua/family.lua``): a
row read before a set or a remove of its member is skipped, and increments made before its
row arrived are applied on top of it, so nothing written meanwhile is lost or undone.
``period=`` rebuilds one period board instead (a model board with ``period_field``): the rows
whose ``period_field`` falls inside the period, with the same copy, mirror and swap; the
period's own marker (``<base>:meta:<period>:<label>``) then says Redis holds it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import redis.exceptions
from asgiref.sync import sync_to_async

from django_redis_patterns.client import instrument, scripts

from . import periods as periods_mod
from . import scores
from .board import _OUTAGES, Leaderboard, _failed, _partition_value, composed_script, node_client
from .conf import get as get_settings

_script = composed_script("rebuild")

Row = tuple[str, Any, Any]  # (member, score or None = not on the board, partition or None)
#: Batches sent per pipeline round trip while loading.
_BATCHES_PER_TRIP = 8
#: Seconds a rebuild may go without progress before its marker (and copy) expire.
_MARKER_TTL = 600
#: The same for a heal (a read found the board missing): readers wait on it, so a heal that
#: died must not block them for long.
_HEAL_TTL = 60


class RebuildError(scores.LeaderboardError):
    """A rebuild could not start or finish (another one runs, or the marker was lost)."""


class RebuildRunning(RebuildError):
    """Another rebuild of this board is running (its marker exists)."""


@dataclass
class RebuildResult:
    members: int
    seconds: float

    @property
    def rate(self) -> float:
        """Members loaded per second."""
        return self.members / self.seconds if self.seconds else float("inf")


@dataclass
class Drift:
    """How a board differs from its source. ``examples`` holds a few members per kind."""

    rows: int = 0
    members: int = 0
    missing: int = 0
    extra: int = 0
    mismatched: int = 0
    wrong_partition: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the board matches its source."""
        return not (self.missing or self.extra or self.mismatched or self.wrong_partition)

    def note(self, kind: str, member: str) -> None:
        """Count one example ``member`` of ``kind`` (at most 5 kept per kind)."""
        bucket = self.examples.setdefault(kind, [])
        if len(bucket) < 5:
            bucket.append(member)


def _source(board: Leaderboard, rows: Iterable[Row] | None, period: Period | None = None) -> Iterable[Row]:
    if rows is not None:
        return rows
    if period is not None:
        if not getattr(board, "period_field", None):
            raise RebuildError(f"{board!r} has no period_field: its period boards cannot be rebuilt")
        qs = board.period_queryset(period.kind, period.first)  # type: ignore[attr-defined]
        return board.rows(qs, removals=False)  # type: ignore[attr-defined, no-any-return]
    if hasattr(board, "db_queryset"):
        return board.rows(board.db_queryset(), removals=False)  # type: ignore[attr-defined, no-any-return]
    raise RebuildError(f"{board!r} has no model: pass rows=[(member, score, partition), ...]")


def _encoded(board: Leaderboard, rows: Iterable[Row]) -> Iterator[tuple[str, str, str]]:
    descending, partitioned = board.descending, board.partitioned
    check, encode = scores.check, scores.encode
    for member, value, part in rows:
        if value is None:
            continue
        try:
            stored = encode(check(value), descending)
        except scores.InvalidScore as exc:
            raise scores.InvalidScore(f"row {member}: {exc}") from None
        yield str(member), stored, "" if part is None or not partitioned else _partition_value(part)


@dataclass(frozen=True)
class Period:
    """One period board to rebuild: ``kind`` ("weekly"...) starting on ``first`` (UTC)."""

    kind: str
    first: dt.date

    @classmethod
    def parse(cls, label: str) -> Period:
        """From a key label such as "weekly:2026-11-30" or "monthly:2026-11"."""
        return cls(*periods_mod.parse(label))

    @property
    def suffix(self) -> str:
        """What the period adds to a board's key: ":weekly:2026-11-30"."""
        return ":" + periods_mod.label(self.kind, self.first)

    def expires_at(self) -> int:
        """Unix time at which this period's board expires (``PERIOD_RETAIN`` periods after its end)."""
        return periods_mod.expires_at(self.kind, self.first, get_settings().PERIOD_RETAIN)


class _Plan:
    """The script calls of one rebuild, shared by the sync and async drivers (only I/O differs)."""

    def __init__(self, board: Leaderboard, *, force: bool, heal: bool, period: Period | None = None):
        self.board = board
        self.period = period
        sfx = "" if period is None else period.suffix
        self.keys = [board.base_key] if period is None else [board.base_key, board.base_key + sfx]
        self.dense = "1" if board.dense else "0"
        self.ttl = _HEAL_TTL if heal else _MARKER_TTL
        self.force = "1" if force else "0"
        self.heal = "1" if heal else "0"
        self.batch = get_settings().BATCH_SIZE
        self.marker = board.base_key + ":rebuilding" + sfx

    def begin(self) -> list[scripts.ArgT]:
        return ["begin", self.dense, self.ttl, self.force, self.heal]

    def loads(self, rows: Iterable[tuple[str, str, str]]) -> Iterator[list[scripts.ArgT]]:
        """One "load" call per BATCH_SIZE rows."""
        chunk: list[scripts.ArgT] = ["load", self.dense]
        for member, stored, part in rows:
            chunk += (member, stored, part)
            if len(chunk) >= 2 + 3 * self.batch:
                yield chunk
                chunk = ["load", self.dense]
        if len(chunk) > 2:
            yield chunk

    def swap(self) -> list[scripts.ArgT]:
        if self.period is not None:
            return ["swap", self.dense, self.period.expires_at()]
        return ["swap", self.dense]

    @property
    def drops_display_data(self) -> bool:
        # Display data may have drifted like the scores: reads refill it from the table. A
        # period rebuild leaves it (the all-time board's rows share it).
        return self.period is None and bool(getattr(self.board, "display_fields", ()))

    def abort(self) -> list[scripts.ArgT]:
        return ["abort", self.dense]


def _rebuild_error(exc: redis.exceptions.ResponseError) -> RebuildError:
    message = str(exc).split("LEADERBOARD ", 1)[-1]
    return (RebuildRunning if "already running" in message else RebuildError)(message)


def rebuild(
    board: Leaderboard,
    rows: Iterable[Row] | None = None,
    *,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
    period: Period | None = None,
) -> RebuildResult:
    """Replace ``board`` (all-time and partitions) with ``rows`` (default: the model's table);
    with ``period``, that period board (global and partitions) instead."""
    with instrument.operation("leaderboard", "rebuild", alias=board.alias, board=board.name):
        result = _rebuild(board, rows, force=force, progress=progress, heal=False, period=period)
    assert result is not None  # only a heal can find the board back already
    if instrument.LISTENERS:
        reported(board, result, healed=False)
    return result


def reported(board: Leaderboard, result: RebuildResult, *, healed: bool) -> None:
    """Report a rebuild (``healed``: a read found the board missing and rebuilt it)."""
    instrument.emit(
        "leaderboard",
        "rebuild",
        board.alias,
        board=board.name,
        members=result.members,
        seconds=result.seconds,
        healed=healed,
    )


def _rebuild(
    board: Leaderboard,
    rows: Iterable[Row] | None,
    *,
    force: bool,
    progress: Callable[[int], None] | None,
    heal: bool,
    period: Period | None = None,
) -> RebuildResult | None:
    """The sync driver. ``heal``: only if the board's marker is missing (None if it is back)."""
    plan = _Plan(board, force=force, heal=heal, period=period)
    started = time.perf_counter()
    try:
        client = node_client(board.client(), board.base_key)
        try:
            # a plain call first: it loads the script on this server (a pipeline cannot)
            if not int(_script(client, plan.keys, plan.begin())):
                return None
        except redis.exceptions.ResponseError as exc:
            raise _rebuild_error(exc) from None
        try:
            loaded, queued = 0, 0
            pipe = client.pipeline(transaction=False)
            for args in plan.loads(_encoded(board, _source(board, rows, period))):
                pipe.evalsha(_script.sha, len(plan.keys), *plan.keys, *args)
                queued += 1
                if queued >= _BATCHES_PER_TRIP:
                    pipe.expire(plan.marker, plan.ttl)  # still alive: keep the marker
                    loaded += sum(pipe.execute()[:-1])
                    queued = 0
                    if progress:
                        progress(loaded)
            if queued:
                loaded += sum(pipe.execute())
            if progress:
                progress(loaded)
            count = int(_script(client, plan.keys, plan.swap()))
            if plan.drops_display_data:
                client.unlink(board.data_key)  # type: ignore[attr-defined]
        except BaseException:
            try:
                _script(client, plan.keys, plan.abort())
            except Exception:  # the marker and the copy expire on their own
                pass
            raise
    except _OUTAGES as exc:
        raise _failed(board.alias, "leaderboard rebuild", exc) from exc
    except redis.exceptions.ResponseError as exc:
        raise _rebuild_error(exc) from None
    return RebuildResult(count, time.perf_counter() - started)


async def _arebuild(
    board: Leaderboard, rows: Iterable[Row] | None, *, force: bool, heal: bool, period: Period | None = None
) -> RebuildResult | None:
    """The async driver: the same calls on the async client, one batch per round trip; the
    rows (an ORM iterator) are pulled in chunks on Django's sync thread, never on the loop."""
    plan = _Plan(board, force=force, heal=heal, period=period)
    started = time.perf_counter()
    encoded = iter(_encoded(board, _source(board, rows, period)))
    pull = sync_to_async(lambda: list(itertools.islice(encoded, plan.batch)))
    try:
        client = await board.aclient()
        try:
            if not int(await _script.acall(client, plan.keys, plan.begin())):
                return None
        except redis.exceptions.ResponseError as exc:
            raise _rebuild_error(exc) from None
        try:
            sent = 0
            while chunk := await pull():
                for args in plan.loads(chunk):
                    await _script.acall(client, plan.keys, args)
                sent += 1
                if sent % _BATCHES_PER_TRIP == 0:
                    await client.expire(plan.marker, plan.ttl)
            count = int(await _script.acall(client, plan.keys, plan.swap()))
            if plan.drops_display_data:
                await client.unlink(board.data_key)  # type: ignore[attr-defined]
        except BaseException:
            try:
                await _script.acall(client, plan.keys, plan.abort())
            except Exception:
                pass
            raise
    except _OUTAGES as exc:
        raise _failed(board.alias, "leaderboard rebuild", exc) from exc
    except redis.exceptions.ResponseError as exc:
        raise _rebuild_error(exc) from None
    return RebuildResult(count, time.perf_counter() - started)


def check(board: Leaderboard, rows: Iterable[Row] | None = None) -> Drift:
    """Compare the all-time board with ``rows`` (default: the model's table); read-only."""
    key = board.base_key
    drift = Drift()
    batch = get_settings().BATCH_SIZE
    on_board = 0
    pending: list[tuple[str, str, str]] = []

    def flush() -> None:
        nonlocal on_board
        pipe = client.pipeline(transaction=False)
        pipe.zmscore(key, [m for m, _, _ in pending])
        if board.partitioned:
            pipe.hmget(key + ":pm", [m for m, _, _ in pending])
        replies = pipe.execute()
        parts = replies[1] if board.partitioned else [None] * len(pending)
        for (member, stored, part), raw, have in zip(pending, replies[0], parts, strict=True):
            if raw is None:
                drift.missing += 1
                drift.note("missing", member)
                continue
            on_board += 1
            if scores.encode(scores.decode(raw, False), False) != stored:
                drift.mismatched += 1
                drift.note("mismatched", member)
            if board.partitioned and (have.decode() if have else "") != part:
                drift.wrong_partition += 1
                drift.note("wrong_partition", member)
        pending.clear()

    try:
        client = node_client(board.client(), key)
        for item in _encoded(board, _source(board, rows)):
            drift.rows += 1
            pending.append(item)
            if len(pending) >= batch:
                flush()
        if pending:
            flush()
        drift.members = int(client.zcard(key))
    except _OUTAGES as exc:
        raise _failed(board.alias, "leaderboard check", exc) from exc
    drift.extra = drift.members - on_board
    if drift.extra and len(drift.examples.get("extra", [])) == 0 and drift.members <= 100_000:
        db_members = {m for m, _, _ in _encoded(board, _source(board, rows))} if rows is None else None
        if db_members is not None:
            for raw in client.zscan_iter(key, count=1000):
                name = raw[0].decode()
                if name not in db_members:
                    drift.note("extra", name)
                    if len(drift.examples["extra"]) >= 5:
                        break
    if instrument.LISTENERS:
        instrument.emit(
            "leaderboard",
            "drift",
            board.alias,
            board=board.name,
            rows=drift.rows,
            members=drift.members,
            missing=drift.missing,
            extra=drift.extra,
            mismatched=drift.mismatched,
            wrong_partition=drift.wrong_partition,
        )
    return drift


def counts(board: Leaderboard) -> tuple[int, int, int | None]:
    """(rows that belong on the board, members on it, last rebuild unix time): a cheap drift signal."""
    rows = _row_count(board)
    try:
        pipe = board.client().pipeline(transaction=False)
        pipe.zcard(board.base_key)
        pipe.hget(board.base_key + ":meta", "rebuilt_at")
        members, rebuilt = pipe.execute()
    except _OUTAGES as exc:
        raise _failed(board.alias, "leaderboard counts", exc) from exc
    return rows, int(members), None if rebuilt is None else int(rebuilt)


def _row_count(board: Leaderboard) -> int:
    include = getattr(board, "include", None)
    qs = board.db_queryset()  # type: ignore[attr-defined]
    if callable(include):
        return sum(1 for obj in qs.iterator(chunk_size=2000) if include(obj))
    return int(qs.count())


def delete_board(board: Leaderboard) -> None:
    """Drop every key of the board: the family in one script, then the period boards, found
    with SCAN on the one node that owns the board's slot (they all share its hash tag)."""
    try:
        _script(board.client(), [board.base_key], ["delete", "1" if board.dense else "0"])
        client = node_client(board.client(), board.base_key)
        pattern = board.base_key.replace("[", "\\[").replace("?", "\\?").replace("*", "\\*") + ":*"
        batch: list[bytes] = []
        for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 500:
                client.unlink(*batch)
                batch.clear()
        if batch:
            client.unlink(*batch)
    except _OUTAGES as exc:
        raise _failed(board.alias, "leaderboard delete", exc) from exc
