"""Self-healing boards: a read that finds its board missing from Redis rebuilds it, once.

A full rebuild writes the board's marker (``<base>:meta``, in the board's slot); every read
of a model board names it to the read script, which answers "board missing" instead of rows
when it is gone (Redis restarted without persistence, failed over to an empty replica,
FLUSHALL) or was never written (a board only ever synced, never rebuilt). Syncs never write
the marker: a board they recreate after a loss holds only the rows saved since, so it is
still "missing" until a full rebuild.

The first reader to notice starts a rebuild from the table under the rebuild's own marker
(``<base>:rebuilding``, SET only if absent, in the rebuild script, which also refuses to
start once the marker is back); other readers, in this process or another, poll for the
marker for up to ``HEAL_WAIT`` seconds and then raise :class:`~.board.BoardMissing`. With
self-healing off (``SELF_HEAL = False``, or ``self_heal = False`` on the model's
``class Leaderboard``) every read of a missing board raises ``BoardMissing`` at once.

Period boards: a board with ``period_field`` guards each period read with the period's own
state (see ``lua/read.lua``): a period Redis has not held since it began is rebuilt the same
way, once, from the rows whose ``period_field`` falls inside it (``rebuild.Period``), and its
own marker ``<base>:meta:<period>:<label>`` (expiring with the period) then says it is held.
Without ``period_field`` (or with ``period_scores = "gain"``) period reads are guarded by the
all-time marker only: what Redis holds of the period is read as it is, and
:func:`period_states` reports a current period Redis lost.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisClusterException, RedisError

from django_redis_patterns.client import instrument
from django_redis_patterns.exceptions import ImproperlyConfigured

from . import periods as periods_mod
from .board import _OUTAGES, BoardMissing, _failed
from .conf import get as get_settings
from .rebuild import Period, RebuildError, RebuildResult, RebuildRunning, _arebuild, _rebuild, reported
from .signals import board_healed

if TYPE_CHECKING:
    from .models import ModelLeaderboard

logger = logging.getLogger("django_redis_patterns.leaderboard")

#: Seconds between two looks at the marker while another process rebuilds the board.
_POLL = 0.05


def _off(board: ModelLeaderboard, period: Period | None = None) -> BoardMissing:
    command = f"`manage.py leaderboard_rebuild {board.model._meta.label}`"
    if period is None:
        return board._missing(f"self-healing is off for it: run {command}")
    return BoardMissing(
        f"leaderboard {board.name!r}: Redis does not hold its {period.suffix[1:]} board (its marker "
        f"{_marker(board, period)} is missing and Redis has not held the board since the period began); "
        f"self-healing is off for it: run {command} (it rebuilds the current periods too)",
        board=board.name,
    )


def _timed_out(board: ModelLeaderboard, wait: float) -> BoardMissing:
    return board._missing(f"another rebuild of it is running and did not finish within HEAL_WAIT ({wait:g} s)")


def _marker(board: ModelLeaderboard, period: Period | None) -> str:
    return board.marker_key if period is None else board.marker_key + period.suffix


def _healed(board: ModelLeaderboard, result: RebuildResult, period: Period | None = None) -> None:
    what = "" if period is None else f" period {period.suffix[1:]}"
    source = "the table" if period is None else f"the rows whose {board.period_field} falls in it"
    logger.warning(
        "leaderboard %s%s was missing from Redis (marker %s absent): rebuilt from %s, %d members in %.2f s",
        board.name,
        what,
        _marker(board, period),
        source,
        result.members,
        result.seconds,
    )
    board_healed.send(sender=board.model, board=board, members=result.members, seconds=result.seconds, period=period)
    if instrument.LISTENERS:
        reported(board, result, healed=True)


def _period(board: ModelLeaderboard, label: str | None) -> Period | None:
    return None if label is None else Period.parse(label)


def heal(board: ModelLeaderboard, label: str | None = None) -> None:
    """Rebuild ``board`` because a read found it missing, or wait for the rebuild that runs.
    ``label`` ("weekly:2026-11-30"): the period board the read found missing."""
    period = _period(board, label)
    if not board.self_heal:
        raise _off(board, period)
    wait = get_settings().HEAL_WAIT
    deadline = time.monotonic() + wait
    try:
        result = _rebuild(board, None, force=False, progress=None, heal=True, period=period)
    except RebuildRunning:
        try:
            client = board.client()
            while not client.exists(_marker(board, period)):
                if time.monotonic() >= deadline:
                    raise _timed_out(board, wait) from None
                time.sleep(_POLL)
        except _OUTAGES as exc:
            raise _failed(board.alias, "leaderboard heal", exc) from exc
        return
    except RebuildError as exc:  # e.g. Redis lost the data again while it was being rebuilt
        raise board._missing(f"its rebuild failed: {exc}") from exc
    if result is not None:  # None: another reader's rebuild finished first
        _healed(board, result, period)


async def aheal(board: ModelLeaderboard, label: str | None = None) -> None:
    """:func:`heal` for async reads: Redis on the async client, the table read on Django's
    sync thread in chunks, the wait with ``asyncio.sleep``."""
    period = _period(board, label)
    if not board.self_heal:
        raise _off(board, period)
    wait = get_settings().HEAL_WAIT
    deadline = time.monotonic() + wait
    try:
        result = await _arebuild(board, None, force=False, heal=True, period=period)
    except RebuildRunning:
        try:
            client = await board.aclient()
            while not await client.exists(_marker(board, period)):
                if time.monotonic() >= deadline:
                    raise _timed_out(board, wait) from None
                await asyncio.sleep(_POLL)
        except _OUTAGES as exc:
            raise _failed(board.alias, "leaderboard heal", exc) from exc
        return
    except RebuildError as exc:
        raise board._missing(f"its rebuild failed: {exc}") from exc
    if result is not None:
        _healed(board, result, period)


def marker_present(board: Any) -> bool:
    """Whether Redis holds ``board`` (its marker exists); raises LeaderboardUnavailable."""
    try:
        return bool(board.client().exists(board.marker_key))
    except _OUTAGES as exc:
        raise _failed(board.alias, "EXISTS", exc) from exc


@dataclass(frozen=True)
class BoardState:
    """Whether Redis holds a model's board (``held`` None: Redis could not be asked)."""

    label: str
    board: Any
    held: bool | None
    members: int = 0
    error: str = ""

    def describe(self) -> str:
        if self.held is None:
            return f"{self.label}: unknown, Redis unreachable: {self.error}"
        if self.held:
            return f"{self.label}: held, {self.members:,} members"
        if self.board.self_heal:
            return f"{self.label}: MISSING from Redis; the first read rebuilds it from the table"
        return (
            f"{self.label}: MISSING from Redis and self-healing is off: reads raise BoardMissing; "
            f"run `manage.py leaderboard_rebuild {self.label}`"
        )


def board_states() -> list[BoardState]:
    """One :class:`BoardState` per model using LeaderboardMixin (for checks and redis_status)."""
    from django.apps import apps

    from .models import LeaderboardMixin, board_for

    states = []
    for model in apps.get_models():
        if not issubclass(model, LeaderboardMixin):
            continue
        try:
            board = board_for(model)
        except ImproperlyConfigured:
            continue  # reported by redis_patterns.E040
        label = model._meta.label
        try:
            pipe = board.client().pipeline(transaction=False)
            pipe.exists(board.marker_key)
            pipe.zcard(board.base_key)
            held, members = pipe.execute()
        except (*_OUTAGES, RedisError, RedisClusterException, OSError) as exc:  # a check reports, never raises
            states.append(BoardState(label, board, None, error=str(exc)))
            continue
        states.append(BoardState(label, board, bool(held), int(members)))
    return states


@dataclass(frozen=True)
class PeriodState:
    """A current period board Redis has not held since the period began (it lost its data
    during the period): ``period`` is e.g. "weekly:2026-11-30"; ``since`` the unix time Redis
    began to hold the board again (None: it holds no marker of it yet)."""

    label: str
    board: Any
    period: str
    since: int | None

    @property
    def heals(self) -> bool:
        """Whether its first read rebuilds it (``period_field`` set, self-healing on)."""
        return bool(self.board.periods_heal and self.board.self_heal)

    @property
    def fails_reads(self) -> bool:
        """Whether reads of it raise BoardMissing (rebuildable, but self-healing is off)."""
        return bool(self.board.periods_heal and not self.board.self_heal)

    def describe(self) -> str:
        head = f"{self.label} {self.period}: MISSING from Redis"
        if self.since is not None:
            when = dt.datetime.fromtimestamp(self.since, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
            head += f" (Redis holds the board only since {when})"
        if self.heals:
            return f"{head}; the first read rebuilds it from the rows whose {self.board.period_field} falls in it"
        if self.fails_reads:
            return f"{head}; self-healing is off: reads of it raise BoardMissing until the period ends"
        if self.board.period_scores == "gain":
            return (
                f"{head}; it holds only the gains written since then: period_scores = 'gain' boards "
                "cannot be rebuilt from the table (it holds no per-period gains); complete again from the next period"
            )
        return (
            f"{head}; it holds only the scores written since then: set period_field in the model's "
            "Leaderboard options (the field recording when a row's score last changed) to rebuild it"
        )


def period_states(states: list[BoardState] | None = None) -> list[PeriodState]:
    """The current period boards Redis lost (one per model and period kind), by this
    machine's clock; a model whose board Redis could not be asked about is left out."""
    today = dt.datetime.now(dt.UTC).date()
    out: list[PeriodState] = []
    for state in board_states() if states is None else states:
        board = state.board
        if state.held is None or not board.periods:
            continue
        current = [Period(kind, periods_mod.start(kind, today)) for kind in board.periods]
        try:
            pipe = board.client().pipeline(transaction=False)
            pipe.exists(board.marker_key)
            pipe.hget(board.marker_key, "since")
            pipe.get(board.marker_key + ":since")
            for period in current:
                pipe.exists(board.marker_key + period.suffix)
            held, since, periods_since, *own = pipe.execute()
        except (*_OUTAGES, RedisError, RedisClusterException, OSError):  # a check reports, never raises
            continue
        # when Redis began to hold the board (read.lua's rule): the all-time marker's "since"
        # (absent: always), or the first period rebuild's, whichever is earlier
        began = None if not held else (0 if since is None else int(since))
        if periods_since is not None:
            began = int(periods_since) if began is None else min(began, int(periods_since))
        for period, marked in zip(current, own, strict=True):
            if marked or (began is not None and began <= periods_mod.timestamp(period.first)):
                continue
            out.append(PeriodState(state.label, board, period.suffix[1:], began))
    return out
