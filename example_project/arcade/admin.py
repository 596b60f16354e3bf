from __future__ import annotations

from django.contrib import admin

from .models import Player, Round, SeasonSnapshot, SeasonWinner


@admin.register(Player)
class PlayerAdmin(admin.ModelAdmin):
    list_display = ["__str__", "region", "score", "weekly_score", "week", "rounds_played"]
    list_filter = ["region", "week"]
    search_fields = ["user__username"]
    raw_id_fields = ["user"]
    list_select_related = ["user"]


@admin.register(Round)
class RoundAdmin(admin.ModelAdmin):
    list_display = ["player", "score", "season", "played_at"]
    list_filter = ["season"]
    raw_id_fields = ["player"]
    list_select_related = ["player__user"]


class SeasonWinnerInline(admin.TabularInline):
    model = SeasonWinner
    raw_id_fields = ["player"]
    extra = 0


@admin.register(SeasonSnapshot)
class SeasonSnapshotAdmin(admin.ModelAdmin):
    list_display = ["season", "closed_at", "players"]
    inlines = [SeasonWinnerInline]
