from __future__ import annotations

from django.apps import AppConfig


class LeaderboardConfig(AppConfig):
    name = "django_redis_patterns.leaderboard"
    label = "redis_leaderboard"
    verbose_name = "Redis leaderboards"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
