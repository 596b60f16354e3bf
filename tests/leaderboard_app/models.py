"""Models for the leaderboard tests: one per configuration the tests exercise."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from django_redis_patterns.leaderboard import LeaderboardMixin


class Player(LeaderboardMixin, models.Model):
    name = models.CharField(max_length=50)
    score = models.IntegerField(default=0)
    region = models.CharField(max_length=8, default="eu")
    nickname = models.CharField(max_length=50, blank=True)

    class Leaderboard:
        score_field = "score"
        ranking = "competition"
        periods = ["daily", "weekly"]
        partition_by = "region"

    def __str__(self) -> str:
        return self.name


class Runner(LeaderboardMixin, models.Model):
    """Lower time is better; only finished runs count (include as a Q)."""

    name = models.CharField(max_length=50)
    seconds = models.FloatField(null=True)
    finished = models.BooleanField(default=True)

    class Leaderboard:
        score_field = "seconds"
        order = "asc"
        ranking = "dense"
        include = Q(finished=True)

    def __str__(self) -> str:
        return self.name


class Team(LeaderboardMixin, models.Model):
    """include as a callable."""

    name = models.CharField(max_length=50)
    points = models.IntegerField(default=0)
    active = models.BooleanField(default=True)

    class Leaderboard:
        score_field = "points"
        ranking = "ordinal"

        @staticmethod
        def include(team: Team) -> bool:
            return team.active

    def __str__(self) -> str:
        return self.name


class Gamer(LeaderboardMixin, models.Model):
    """display_fields: the board keeps name and joined in Redis, so pages read no SQL."""

    name = models.CharField(max_length=50)
    score = models.IntegerField(default=0, null=True)  # None: off the board
    joined = models.DateTimeField()
    bio = models.TextField(blank=True)

    class Leaderboard:
        score_field = "score"
        periods = ["weekly"]
        display_fields = ["name", "joined"]

    def __str__(self) -> str:
        return self.name


class Scorer(LeaderboardMixin, models.Model):
    """period_field: period boards Redis lost are rebuilt from the rows changed in the period."""

    name = models.CharField(max_length=50)
    score = models.IntegerField(default=0)
    region = models.CharField(max_length=8, default="eu")
    changed = models.DateTimeField(default=timezone.now)  # the tests set it; a site would use auto_now

    class Leaderboard:
        periods = ["daily", "weekly"]
        partition_by = "region"
        period_field = "changed"

    def __str__(self) -> str:
        return self.name


class Earner(LeaderboardMixin, models.Model):
    """period_scores = "gain": period boards hold what was earned in the period (never rebuilt)."""

    name = models.CharField(max_length=50)
    score = models.IntegerField(default=0)

    class Leaderboard:
        periods = ["weekly"]
        period_scores = "gain"

    def __str__(self) -> str:
        return self.name


class Achiever(LeaderboardMixin, models.Model):
    """period_field on a DateField: the day the score last changed (a UTC date)."""

    name = models.CharField(max_length=50)
    score = models.IntegerField(default=0)
    day = models.DateField()

    class Leaderboard:
        periods = ["weekly"]
        period_field = "day"

    def __str__(self) -> str:
        return self.name
