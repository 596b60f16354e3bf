"""Redis leaderboards (django_redis_patterns.leaderboard).

    from django_redis_patterns.leaderboard import Leaderboard, LeaderboardMixin

``LeaderboardMixin`` is imported lazily: it is a model class, and this package is itself an
installed app, imported before Django's model registry is ready.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .board import KEEP, BoardMissing, Entry, Leaderboard, LeaderboardUnavailable, RankedList
from .scores import InvalidScore, LeaderboardError

if TYPE_CHECKING:  # type checkers see the real classes; at runtime they load lazily
    from .models import LeaderboardMixin, LeaderboardQuerySet, ModelLeaderboard

__all__ = [
    "KEEP",
    "BoardMissing",
    "Entry",
    "InvalidScore",
    "Leaderboard",
    "LeaderboardError",
    "LeaderboardMixin",
    "LeaderboardQuerySet",
    "LeaderboardUnavailable",
    "ModelLeaderboard",
    "RankedList",
]


def __getattr__(name: str) -> Any:
    if name in ("LeaderboardMixin", "LeaderboardQuerySet", "ModelLeaderboard"):
        from . import models

        return getattr(models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
