"""The two leaderboards the pages show: "alltime" (Player.score) and "weekly" (this season's score).

Rows are plain dicts so the top-50 part can be cached as it is.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from .models import Player, current_season

BOARDS = ("alltime", "weekly")
TOP = 50


def _field(board: str) -> str:
    if board not in BOARDS:
        raise ValueError(f"board must be one of {BOARDS}, got {board!r}")
    return "score" if board == "alltime" else "weekly_score"


def _players(board: str) -> Any:
    qs = Player.objects.select_related("user")
    return qs.filter(week=current_season()) if board == "weekly" else qs


def _row(rank: int, player: Player, board: str) -> dict[str, Any]:
    return {"rank": rank, "name": player.name, "score": getattr(player, _field(board)), "player_id": player.pk}


def rank_of(board: str, player: Player) -> int | None:
    field = _field(board)
    if board == "weekly" and player.week != current_season():
        return None
    return _players(board).filter(**{f"{field}__gt": getattr(player, field)}).count() + 1


def top(board: str, n: int = TOP) -> list[dict[str, Any]]:
    field = _field(board)
    rows, rank, previous = [], 0, None
    for position, player in enumerate(_players(board).order_by(f"-{field}", "pk")[:n], start=1):
        score = getattr(player, field)
        if score != previous:
            rank, previous = position, score
        rows.append(_row(rank, player, board))
    return rows


def around(board: str, player: Player, n: int = 5) -> list[dict[str, Any]]:
    field = _field(board)
    me = rank_of(board, player)
    if me is None:
        return []
    score = getattr(player, field)
    players = _players(board)
    above = list(
        players.filter(Q(**{f"{field}__gt": score}) | Q(**{field: score, "pk__lt": player.pk})).order_by(field, "-pk")[
            :n
        ]
    )[::-1]
    below = list(
        players.filter(Q(**{f"{field}__lt": score}) | Q(**{field: score, "pk__gt": player.pk})).order_by(
            f"-{field}", "pk"
        )[:n]
    )
    return [_row(rank_of(board, p) or 0, p, board) for p in [*above, player, *below]]


def size(board: str) -> int:
    return _players(board).count()
