from __future__ import annotations

from django.contrib import admin

from django_redis_patterns.leaderboard.admin import LeaderboardAdminMixin

from .models import Player, Runner


class OtherToolMixin:
    """Stands in for another admin mixin that also extends the changelist (import-export style)."""

    change_list_template = "leaderboard_app/other_change_list.html"


@admin.register(Player)
class PlayerAdmin(LeaderboardAdminMixin, OtherToolMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    search_fields = ["name"]
    list_display = ["name", "score", "region"]


@admin.register(Runner)
class RunnerAdmin(LeaderboardAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    pass
