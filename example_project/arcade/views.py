"""The arcade's pages. Each view is short on purpose: the Redis patterns do the work."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from django_redis_patterns import get_redis

from . import boards
from .forms import PlayForm, SignupForm
from .game import record_round, roll_score
from .models import Player, Round, SeasonSnapshot, current_season

LEADERBOARD_CACHE_SECONDS = 5


def home(request: HttpRequest) -> HttpResponse:
    visits = get_redis().incr("arcade:home:visits")
    return render(request, "arcade/home.html", {"visits": visits})


def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            Player.objects.create(user=user, region=form.cleaned_data["region"])
        login(request, user)
        return redirect("play")
    return render(request, "arcade/signup.html", {"form": form})


def _player(request: HttpRequest) -> Player:
    player, _ = Player.objects.get_or_create(user=request.user)  # staff created with createsuperuser have none
    return player


@login_required
def play(request: HttpRequest) -> HttpResponse:
    player = _player(request)
    form = PlayForm(request.POST if request.method == "POST" else None)
    played = None
    if request.method == "POST" and form.is_valid():
        played = record_round(
            player, form.cleaned_data["score"] if form.cleaned_data["score"] is not None else roll_score()
        )
    recent = Round.objects.filter(player=player)[:10]
    return render(request, "arcade/play.html", {"player": player, "form": form, "played": played, "recent": recent})


@require_POST
def api_play(request: HttpRequest) -> JsonResponse:
    """``POST /api/play`` with ``{"score": 123}`` (optional): the JSON twin of the play page."""
    if not request.user.is_authenticated:
        return JsonResponse({"detail": "log in first"}, status=401)
    try:
        body: Any = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"detail": "body must be JSON"}, status=400)
    form = PlayForm(body if isinstance(body, dict) else {})
    if not form.is_valid():
        return JsonResponse({"detail": "invalid score", "errors": form.errors}, status=400)
    player = _player(request)
    score = form.cleaned_data["score"]
    played = record_round(player, score if score is not None else roll_score())
    return JsonResponse(
        {
            "score": played.score,
            "total": player.score,
            "weekly": player.weekly_score,
            "rank": boards.rank_of("alltime", player),
        }
    )


def leaderboard(request: HttpRequest) -> HttpResponse:
    board = request.GET.get("board", "alltime")
    if board not in boards.BOARDS:
        board = "alltime"
    # The top 50 is the same for everyone: build it once per few seconds, whoever asks. get_or_set
    # lets one request rebuild it while the others wait for its result (no stampede).
    season = current_season()
    top = cache.get_or_set(f"arcade:top:{board}:{season}", lambda: boards.top(board), timeout=LEADERBOARD_CACHE_SECONDS)
    me: dict[str, Any] = {}
    if request.user.is_authenticated:
        player = _player(request)
        me = {"rank": boards.rank_of(board, player), "around": boards.around(board, player, 5), "player_id": player.pk}
    return render(
        request,
        "arcade/leaderboard.html",
        {"board": board, "top": top, "me": me, "season": season, "size": boards.size(board)},
    )


def seasons(request: HttpRequest) -> HttpResponse:
    snapshots = SeasonSnapshot.objects.prefetch_related("winners")[:20]
    return render(request, "arcade/seasons.html", {"snapshots": snapshots})


@login_required
def devices(request: HttpRequest) -> HttpResponse:
    return render(request, "arcade/devices.html", {"sessions": [], "current": request.session.session_key})


@login_required
@require_POST
def logout_others(request: HttpRequest) -> HttpResponse:
    return redirect("devices")


@login_required
@require_POST
def revoke_session(request: HttpRequest) -> HttpResponse:
    return redirect("devices")
