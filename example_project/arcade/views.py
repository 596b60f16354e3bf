"""The arcade's pages. Each view is short on purpose: the Redis patterns do the work.

* sessions   -- SESSION_ENGINE in settings; ``devices``/``logout_others``/``revoke_session`` here
* ratelimit  -- ``@ratelimit`` on ``play``/``api_play``; a middleware rule guards ``/login/``;
                ``ratelimited`` renders the 429 page
* leaderboard-- ``boards.py`` (Player.leaderboard and the weekly board)
* cache      -- the top 50 of each board through ``cache.get_or_set`` (stampede-safe)
* locks      -- ``management/commands/close_season.py``
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST
from redis.exceptions import RedisClusterException, RedisError

from django_redis_patterns import get_redis
from django_redis_patterns.exceptions import RedisUnavailable
from django_redis_patterns.ratelimit import headers as ratelimit_headers
from django_redis_patterns.ratelimit import ratelimit
from django_redis_patterns.sessions import logout_everywhere, revoke_session, user_sessions

from . import boards
from .forms import PlayForm, SignupForm
from .game import record_round, roll_score
from .models import Player, Round, SeasonSnapshot, current_season

if getattr(settings, "ARCADE_STACK", "patterns") == "today":  # the load benchmark's baseline, see today.py
    from .today import ratelimit  # type: ignore[assignment]

#: Rounds a player may play: 10 a minute, spread out by GCRA (a burst of 10, then one every 6 s).
PLAY_RATE = "10/m"
LEADERBOARD_CACHE_SECONDS = 5
QUOTA_EXCEEDED = "https://iana.org/assignments/http-problem-types#quota-exceeded"


def home(request: HttpRequest) -> HttpResponse:
    try:
        visits = get_redis().incr("arcade:home:visits")
    except (RedisError, RedisClusterException):  # a bare client raises redis-py's errors: the page works without
        visits = None
    return render(request, "arcade/home.html", {"visits": visits})


def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        # All or nothing: a login that fails rolls the account back, so a retry never hears
        # "that username already exists" for an account nobody could use.
        with transaction.atomic():
            user = form.save()
            Player.objects.create(user=user, name=user.get_username(), region=form.cleaned_data["region"])
            login(request, user)
        return redirect("play")
    return render(request, "arcade/signup.html", {"form": form})


def _player(request: HttpRequest) -> Player:
    user = request.user
    assert user.is_authenticated  # every caller is behind login_required or checks it
    try:
        return user.player  # type: ignore[no-any-return]  # read with the user (USER_SELECT_RELATED)
    except Player.DoesNotExist:  # accounts made with createsuperuser have no player yet
        player, _ = Player.objects.get_or_create(user=user, defaults={"name": user.get_username()})
        return player


# user_or_ip: a logged-in player is limited per account, an anonymous visitor per IP address
# (checked before login_required, so anonymous POSTs are counted too). One group for the page
# and the API: both spend the same 10 rounds a minute.
@ratelimit(group="arcade.play", key="user_or_ip", rate=PLAY_RATE, method="POST", algorithm="gcra")
@login_required
def play(request: HttpRequest) -> HttpResponse:
    player = _player(request)
    form = PlayForm(request.POST if request.method == "POST" else None)
    played = None
    if request.method == "POST" and form.is_valid():
        score = form.cleaned_data["score"]
        played = record_round(player, score if score is not None else roll_score())
    recent = Round.objects.filter(player=player)[:10]
    return render(request, "arcade/play.html", {"player": player, "form": form, "played": played, "recent": recent})


@require_POST
@ratelimit(group="arcade.play", key="user_or_ip", rate=PLAY_RATE, method="POST", algorithm="gcra")
def api_play(request: HttpRequest) -> JsonResponse:
    """``POST /api/play`` with ``{"score": 123}`` (optional): the JSON twin of the play page."""
    if not request.user.is_authenticated:
        if getattr(request.session, "unavailable", False):
            # The session store failed (ON_ERROR="anonymous"): the login may well exist, so no 401
            # that would make the client drop it -- "try again in a moment", as when limits are blind.
            return _unavailable_problem()
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
    return JsonResponse({"score": played.score, "total": player.score, "weekly": player.weekly_score})


def _unavailable_problem(retry_after: int = 5) -> HttpResponse:
    problem = {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": f"Try again in {retry_after} s.",
        "retry_after": retry_after,
    }
    response = HttpResponse(json.dumps(problem), status=503, content_type="application/problem+json")
    response["Retry-After"] = str(retry_after)
    return response


def ratelimited(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """What a limited request gets (REDIS_PATTERNS["RATELIMIT"]["VIEW"]): a friendly 429 page,
    or RFC 9457 problem+json under /api/; ``Retry-After`` and the RateLimit headers on both."""
    usage = getattr(exception, "usage", None) or getattr(request, "ratelimit", None)
    unavailable = bool(getattr(usage, "unavailable", False))
    status = 503 if unavailable else 429
    retry_after = int(ratelimit_headers.retry_after(usage)) if usage is not None and not unavailable else 60
    if request.path.startswith("/api/") or "json" in request.headers.get("Accept", ""):
        problem = {
            "type": "about:blank" if unavailable else QUOTA_EXCEEDED,
            "title": "Service Unavailable" if unavailable else "Too Many Requests",
            "status": status,
            "detail": f"Slow down: try again in {retry_after} s.",
            "retry_after": retry_after,
        }
        response = HttpResponse(json.dumps(problem), status=status, content_type="application/problem+json")
    else:
        what = "login attempts" if request.path.startswith(("/login/", "/admin/login/")) else "rounds"
        context = {"retry_after": retry_after, "what": what, "unavailable": unavailable}
        response = render(request, "arcade/429.html", context, status=status)
    response["Retry-After"] = str(retry_after)
    if usage is not None and not unavailable:
        ratelimit_headers.apply(response, usage, mode="draft")
    return response


def leaderboard(request: HttpRequest) -> HttpResponse:
    name = request.GET.get("board", "alltime")
    if name not in boards.BOARDS:
        name = "alltime"
    season = current_season()

    # The top 50 is the same for everyone: its rows and rendered HTML are rebuilt at most once per
    # few seconds, and only one request recomputes them while the others keep the cached copy
    # (get_or_set is stampede-safe). The visitor's own row is highlighted by a one-line style.
    def build_top() -> tuple[list[dict[str, Any]], str]:
        rows = boards.top(name)
        return rows, render_to_string("arcade/top.html", {"top": rows})

    try:
        cached = cache.get_or_set(f"arcade:top:{name}:{season}", build_top, timeout=LEADERBOARD_CACHE_SECONDS)
        top, top_html = cached  # type: ignore[misc]  # never None: build_top returns a pair
        me: dict[str, Any] = {}
        if request.user.is_authenticated:
            player = _player(request)
            # rank, board size and neighbours in one round trip
            rank, size, around = boards.around_me(name, player, 5)
            me = {"rank": rank, "around": around, "player_id": player.pk}
        else:
            size = boards.size(name)
    except RedisUnavailable:  # CacheError, LeaderboardUnavailable: the boards live in Redis only
        context = {"board": name, "season": season, "unavailable": True}
        return render(request, "arcade/leaderboard.html", context, status=503)
    context = {"board": name, "top": top, "top_html": mark_safe(top_html), "me": me, "season": season, "size": size}
    return render(request, "arcade/leaderboard.html", context)


def seasons(request: HttpRequest) -> HttpResponse:
    snapshots = SeasonSnapshot.objects.prefetch_related("winners")[:20]
    return render(request, "arcade/seasons.html", {"snapshots": snapshots})


def _indexed_sessions() -> bool:
    return settings.SESSION_ENGINE == "django_redis_patterns.sessions.backend"


@login_required
def devices(request: HttpRequest) -> HttpResponse:
    sessions = user_sessions(request.user, current=request) if _indexed_sessions() else []
    return render(request, "arcade/devices.html", {"sessions": sessions, "indexed": _indexed_sessions()})


@login_required
@require_POST
def logout_others(request: HttpRequest) -> HttpResponse:
    count = logout_everywhere(request.user, keep=request)
    messages.success(request, f"Logged out {count} other device{'s' if count != 1 else ''}.")
    return redirect("devices")


@login_required
@require_POST
def revoke_session_view(request: HttpRequest) -> HttpResponse:
    ref = request.POST.get("session", "")
    if ref and revoke_session(request.user, ref):
        messages.success(request, "That device was logged out.")
    return redirect("devices")


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics of every pattern (METRICS=1; docs/observability.md). Keep it off the
    public site in production (a proxy rule, or a separate port)."""
    if not getattr(settings, "ARCADE_METRICS", False):
        raise Http404("metrics are off (METRICS=0)")
    from django_redis_patterns.contrib import prometheus

    prometheus.install()  # normally done at startup (ArcadeConfig.ready); here for settings changed since
    return prometheus.metrics_view(request)
