from __future__ import annotations

from django.apps import AppConfig


class LeaderboardAppConfig(AppConfig):
    name = "tests.leaderboard_app"
    label = "leaderboard_app"
    default_auto_field = "django.db.models.BigAutoField"
