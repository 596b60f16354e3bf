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
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisClusterException, RedisError

from django_redis_patterns.exceptions import ImproperlyConfigured

from .board import _OUTAGES, BoardMissing, _failed
from .conf import get as get_settings
from .rebuild import RebuildError, RebuildResult, RebuildRunning, _arebuild, _rebuild
from .signals import board_healed

if TYPE_CHECKING:
    from .models import ModelLeaderboard

logger = logging.getLogger("django_redis_patterns.leaderboard")

#: Seconds between two looks at the marker while another process rebuilds the board.
_POLL = 0.05


def _off(board: ModelLeaderboard) -> BoardMissing:
    return board._missing(f"self-healing is off for it: run `manage.py leaderboard_rebuild {board.model._meta.label}`")


def _timed_out(board: ModelLeaderboard, wait: float) -> BoardMissing:
    return board._missing(f"another rebuild of it is running and did not finish within HEAL_WAIT ({wait:g} s)")


def _healed(board: ModelLeaderboard, result: RebuildResult) -> None:
    logger.warning(
        "leaderboard %s was missing from Redis (marker %s absent): rebuilt from the table, %d members in %.2f s",
        board.name,
        board.marker_key,
        result.members,
        result.seconds,
    )
    board_healed.send(sender=board.model, board=board, members=result.members, seconds=result.seconds)


def heal(board: ModelLeaderboard) -> None:
    """Rebuild ``board`` because a read found it missing, or wait for the rebuild that runs."""
    if not board.self_heal:
        raise _off(board)
    wait = get_settings().HEAL_WAIT
    deadline = time.monotonic() + wait
    try:
        result = _rebuild(board, None, force=False, progress=None, heal=True)
    except RebuildRunning:
        try:
            client = board.client()
            while not client.exists(board.marker_key):
                if time.monotonic() >= deadline:
                    raise _timed_out(board, wait) from None
                time.sleep(_POLL)
        except _OUTAGES as exc:
            raise _failed(board.alias, "leaderboard heal", exc) from exc
        return
    except RebuildError as exc:  # e.g. Redis lost the data again while it was being rebuilt
        raise board._missing(f"its rebuild failed: {exc}") from exc
    if result is not None:  # None: another reader's rebuild finished first
        _healed(board, result)


async def aheal(board: ModelLeaderboard) -> None:
    """:func:`heal` for async reads: Redis on the async client, the table read on Django's
    sync thread in chunks, the wait with ``asyncio.sleep``."""
    if not board.self_heal:
        raise _off(board)
    wait = get_settings().HEAL_WAIT
    deadline = time.monotonic() + wait
    try:
        result = await _arebuild(board, None, force=False, heal=True)
    except RebuildRunning:
        try:
            client = await board.aclient()
            while not await client.exists(board.marker_key):
                if time.monotonic() >= deadline:
                    raise _timed_out(board, wait) from None
                await asyncio.sleep(_POLL)
        except _OUTAGES as exc:
            raise _failed(board.alias, "leaderboard heal", exc) from exc
        return
    except RebuildError as exc:
        raise board._missing(f"its rebuild failed: {exc}") from exc
    if result is not None:
        _healed(board, result)


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
