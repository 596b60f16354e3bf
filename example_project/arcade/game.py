"""Playing a round: the one write path of the game, shared by the HTML page and the JSON API."""

from __future__ import annotations

import random

from django.db import transaction
from django.utils import timezone

from . import boards
from .models import Player, Round, current_season

MAX_ROUND_SCORE = 1000


def roll_score() -> int:
    """A round's score when the client does not send one (the "game" is a dice roll)."""
    return random.randint(0, MAX_ROUND_SCORE)


def record_round(player: Player, score: int) -> Round:
    """Add one round to ``player``: all-time and weekly totals move together, in one transaction."""
    if not 0 <= score <= MAX_ROUND_SCORE:
        raise ValueError(f"score must be between 0 and {MAX_ROUND_SCORE}, got {score}")
    now = timezone.now()
    season = current_season(now)
    with transaction.atomic():
        locked = Player.objects.select_for_update().get(pk=player.pk)
        if locked.week != season:
            locked.week, locked.weekly_score = season, 0
        locked.score += score
        locked.weekly_score += score
        locked.rounds_played += 1
        locked.save(update_fields=["score", "weekly_score", "week", "rounds_played"])
        played = Round.objects.create(player=locked, score=score, season=season, played_at=now)
        boards.add_round(locked)  # the weekly board; the all-time one follows Player.score by itself
    player.score, player.weekly_score, player.week = locked.score, locked.weekly_score, locked.week
    player.rounds_played = locked.rounds_played
    return played
