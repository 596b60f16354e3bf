"""``manage.py close_season [--season 2026-W48 | --season last] [--top 10]``: keep the weekly winners for ever.

Cron may start it on every web server at the same minute. ``LockedCommand`` runs
``handle()`` under the Redis lock ``arcade:close_season:<season>``: one copy does the work,
the others print "skipped: ... already running" and exit 0. Inside the lock the command
checks whether the season is closed already, so a copy started after the first one finished
writes nothing either: exactly one snapshot per season. (The unique ``season`` column would
turn a lock failure into an IntegrityError rather than a second snapshot.)
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from arcade import boards
from arcade.models import Player, SeasonSnapshot, SeasonWinner, current_season
from django_redis_patterns.locks.commands import LockedCommand


def resolve_season(value: str | None) -> str:
    """``None`` -> this week, ``"last"`` -> last week (what a Monday-morning cron closes), else as given."""
    if value == "last":
        return current_season(timezone.now() - datetime.timedelta(days=7))
    return value or current_season()


def _lock_key(options: dict[str, Any]) -> str:
    return f"arcade:close_season:{resolve_season(options.get('season'))}"


class Command(LockedCommand):
    help = "Snapshot the weekly leaderboard's winners into the database, exactly once per season."
    lock_key = staticmethod(_lock_key)
    lock_ttl = 60  # renewed while handle() runs
    lock_on_busy = "skip"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--season", default=None, help="ISO week to close: 2026-W48, or 'last' (default: this week)."
        )
        parser.add_argument("--top", type=int, default=10, help="How many winners to keep (default 10).")

    def handle(self, *args: Any, season: str | None, top: int, **options: Any) -> None:
        season = resolve_season(season)
        if not re.fullmatch(r"\d{4}-W\d{2}", season):
            raise CommandError(f"--season must look like 2026-W48, got {season!r}")
        if top < 1:
            raise CommandError(f"--top must be >= 1, got {top}")
        snapshot = close(season, top)
        if snapshot is None:
            self.stdout.write(f"close_season: {season} was closed already; nothing written.")
        else:
            kept = snapshot.winners.count()
            self.stdout.write(self.style.SUCCESS(f"close_season: {season} closed, {kept} winners kept."))


def close(season: str, top: int) -> SeasonSnapshot | None:
    """Write the snapshot of ``season`` from its weekly board; None when it exists already."""
    if SeasonSnapshot.objects.filter(season=season).exists():
        return None
    winners = boards.top("weekly", top, season=season)
    players = Player.objects.in_bulk([row["player_id"] for row in winners])
    with transaction.atomic():
        snapshot = SeasonSnapshot.objects.create(season=season, players=boards.size("weekly", season=season))
        SeasonWinner.objects.bulk_create(
            SeasonWinner(
                snapshot=snapshot,
                rank=row["rank"],
                player=players.get(row["player_id"]),
                player_name=row["name"],
                score=row["score"],
            )
            for row in winners
        )
    return snapshot
