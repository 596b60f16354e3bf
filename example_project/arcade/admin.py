"""Admin: the Player admin gets a "Leaderboard" page (LeaderboardAdminMixin); the user admin
gets each user's live sessions with "Revoke" / "Log out everywhere" (sessions admin)."""

from __future__ import annotations

from django.contrib import admin

from django_redis_patterns.leaderboard.admin import LeaderboardAdminMixin
from django_redis_patterns.sessions.admin import register_user_sessions_admin

from .models import Player, Round, SeasonSnapshot, SeasonWinner


@admin.register(Player)
class PlayerAdmin(LeaderboardAdminMixin, admin.ModelAdmin):
    list_display = ["name", "region", "score", "weekly_score", "week", "rounds_played"]
    list_filter = ["region", "week"]
    search_fields = ["name"]
    raw_id_fields = ["user"]


@admin.register(Round)
class RoundAdmin(admin.ModelAdmin):
    list_display = ["player", "score", "season", "played_at"]
    list_filter = ["season"]
    raw_id_fields = ["player"]
    list_select_related = ["player"]


class SeasonWinnerInline(admin.TabularInline):
    model = SeasonWinner
    raw_id_fields = ["player"]
    extra = 0


@admin.register(SeasonSnapshot)
class SeasonSnapshotAdmin(admin.ModelAdmin):
    list_display = ["season", "closed_at", "players"]
    inlines = [SeasonWinnerInline]


# Keeps the registered user admin (Django's here) and adds a "Sessions" page to it.
register_user_sessions_admin()
