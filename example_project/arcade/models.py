"""The arcade's data: a Player per user, the Rounds they play, and SeasonSnapshots of weekly winners.

The database is the source of truth; the Redis leaderboards are derived from ``Player.score``
(all time) and from the score gained this week (the weekly period board), so they can be
rebuilt from here at any time (``manage.py leaderboard_rebuild``).
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from django_redis_patterns.leaderboard import LeaderboardMixin


def current_season(now: datetime.datetime | None = None) -> str:
    """The ISO week the weekly board covers, e.g. ``"2026-W48"`` (UTC, weeks start on Monday)."""
    year, week, _ = (now or timezone.now()).astimezone(datetime.UTC).isocalendar()
    return f"{year}-W{week:02d}"


def season_start(season: str) -> datetime.date:
    """The Monday of ``"2026-W48"``."""
    year, week = season.split("-W")
    return datetime.date.fromisocalendar(int(year), int(week), 1)


class Player(LeaderboardMixin, models.Model):
    """A user's player. ``LeaderboardMixin`` keeps the all-time board in sync with ``score``:
    every save (and ``update``/``bulk_create`` through the default manager) is written to Redis
    after the transaction commits."""

    REGIONS = [("eu", "Europe"), ("na", "North America"), ("sa", "South America"), ("as", "Asia"), ("oc", "Oceania")]

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="player")
    #: The username, copied here so leaderboard rows need no join to show it.
    name = models.CharField(max_length=150, db_index=True)
    region = models.CharField(max_length=2, choices=REGIONS, default="eu")
    score = models.BigIntegerField(default=0, help_text="All-time total of every round's score.")
    rounds_played = models.PositiveIntegerField(default=0)
    week = models.CharField(max_length=8, blank=True, default="", help_text="Season of weekly_score.")
    weekly_score = models.BigIntegerField(default=0, help_text="Total of this season's rounds.")
    created_at = models.DateTimeField(default=timezone.now)

    class Leaderboard:
        name = "arcade.alltime"
        score_field = "score"
        ranking = "competition"  # ties share a rank: 1, 2, 2, 4
        display_fields = ["name"]  # kept in Redis with the score: leaderboard pages read no SQL

    class Meta:
        ordering = ["-score", "pk"]

    def __str__(self) -> str:
        return self.name


class Round(models.Model):
    player = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="rounds")
    score = models.PositiveIntegerField()
    season = models.CharField(max_length=8, db_index=True)
    played_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-played_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.player} scored {self.score}"


class SeasonSnapshot(models.Model):
    """One closed weekly season, written once by ``manage.py close_season``."""

    season = models.CharField(max_length=8, unique=True)
    closed_at = models.DateTimeField(default=timezone.now)
    players = models.PositiveIntegerField(default=0, help_text="Players on the weekly board when it closed.")

    class Meta:
        ordering = ["-season"]

    def __str__(self) -> str:
        return self.season


class SeasonWinner(models.Model):
    snapshot = models.ForeignKey(SeasonSnapshot, on_delete=models.CASCADE, related_name="winners")
    rank = models.PositiveIntegerField()
    player = models.ForeignKey(Player, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    player_name = models.CharField(max_length=150)
    score = models.BigIntegerField()

    class Meta:
        ordering = ["snapshot", "rank", "pk"]

    def __str__(self) -> str:
        return f"{self.snapshot} #{self.rank} {self.player_name} ({self.score})"
