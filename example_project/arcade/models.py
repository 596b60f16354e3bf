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


def current_season(now: datetime.datetime | None = None) -> str:
    """The ISO week the weekly board covers, e.g. ``"2026-W48"``."""
    year, week, _ = (now or timezone.now()).isocalendar()
    return f"{year}-W{week:02d}"


class Player(models.Model):
    REGIONS = [("eu", "Europe"), ("na", "North America"), ("sa", "South America"), ("as", "Asia"), ("oc", "Oceania")]

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="player")
    region = models.CharField(max_length=2, choices=REGIONS, default="eu")
    score = models.BigIntegerField(default=0, help_text="All-time total of every round's score.")
    rounds_played = models.PositiveIntegerField(default=0)
    week = models.CharField(max_length=8, blank=True, default="", help_text="Season of weekly_score.")
    weekly_score = models.BigIntegerField(default=0, help_text="Total of this season's rounds.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-score", "pk"]

    def __str__(self) -> str:
        return self.user.get_username()

    @property
    def name(self) -> str:
        return self.user.get_username()


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
    fencing_token = models.BigIntegerField(
        null=True, blank=True, help_text="The lock's token of the run that wrote it."
    )
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
