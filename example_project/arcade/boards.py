"""The two leaderboards the pages show, both Redis sorted sets:

* ``alltime``: ``Player.leaderboard`` -- the model's board, synced from ``Player.score`` by
  ``LeaderboardMixin`` after each commit.
* ``weekly``: ``WEEKLY.period("weekly")`` -- a second model board over ``Player.weekly_score``
  (this week's points, reset by ``game.record_round`` when a new week starts), written after
  each round's commit into the board of the current week (Redis's clock decides which).

Rows are plain dicts (rank, name, score, player_id) so the top 50 can be cached as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from django_redis_patterns.leaderboard import Entry, Leaderboard, ModelLeaderboard

from .models import Player, current_season, season_start

BOARDS = ("alltime", "weekly")
TOP = 50


class WeeklyBoard:
    """A second board over the same table: this week's points (``Player.weekly_score``).

    Its ``weekly`` period boards are the ones shown: each sync writes the row's weekly score
    into the board of the week Redis's clock is in, so every week starts empty by itself and
    last week's board stays readable (``PERIOD_RETAIN``) for ``close_season``."""

    name = "arcade.weekly"
    score_field = "weekly_score"
    periods = ["weekly"]
    ranking = "competition"
    display_fields = ["name"]


WEEKLY = ModelLeaderboard(Player, WeeklyBoard)


def board(name: str, season: str | None = None) -> Leaderboard:
    if name == "alltime":
        return Player.leaderboard
    if name == "weekly":
        return WEEKLY.period("weekly", at=season_start(season) if season else None)
    raise ValueError(f"board must be one of {BOARDS}, got {name!r}")


def _rows(entries: Iterable[Entry]) -> list[dict[str, Any]]:
    # Entries of a model board carry their row as .obj: built from the name kept in Redis
    # (display_fields), so no query.
    return [{"rank": e.rank, "name": e.obj.name, "score": int(e.score), "player_id": e.obj.pk} for e in entries]


def top(name: str, n: int = TOP, season: str | None = None) -> list[dict[str, Any]]:
    return _rows(board(name, season).top(n))


def around_me(name: str, player: Player, n: int = 5) -> tuple[int | None, int, list[dict[str, Any]]]:
    """The player's rank, the board's size and the rows around the player: one Lua call."""
    size, entries = board(name).around_entries(player, n)
    rows = _rows(entries)
    rank = next((row["rank"] for row in rows if row["player_id"] == player.pk), None)
    return rank, size, rows


def size(name: str, season: str | None = None) -> int:
    return board(name, season).count()


def add_round(player: Player) -> None:
    """After the round's transaction commits, write the player's weekly score to this week's board.

    (The all-time board needs no call: LeaderboardMixin syncs ``Player.score`` on save.)"""
    WEEKLY.schedule([player.pk], using=transaction.get_connection().alias)


def rebuild_weekly(season: str | None = None) -> int:
    """Write this week's board from the database, pipelined (after seeding, or to repair drift)."""
    return WEEKLY.sync(Player.objects.filter(week=season or current_season(), weekly_score__gt=0))
