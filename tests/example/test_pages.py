"""Every page and flow of the example site through Django's test client."""

from __future__ import annotations

from typing import Any

import pytest
from arcade.models import Player, Round, SeasonSnapshot, current_season
from django.core.management import call_command
from django.utils import timezone

from tests.example.conftest import PASSWORD
from tests.topologies import all_topologies

# Real commits: the leaderboards are written after each transaction commits (on_commit).
# The whole site on each topology (REDIS_URL standalone, redis+sentinel://, redis+cluster://),
# and on PostgreSQL in scripts/test's second pass.
pytestmark = [pytest.mark.django_db(transaction=True), all_topologies, pytest.mark.postgres]


def test_home_counts_visits_in_redis(client: Any) -> None:
    first = client.get("/")
    second = client.get("/")
    assert first.status_code == 200
    assert second.context["visits"] == first.context["visits"] + 1


def test_sign_up_creates_a_player_and_logs_in(client: Any) -> None:
    response = client.post(
        "/signup/",
        {"username": "ada", "password1": PASSWORD, "password2": PASSWORD, "region": "na"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/play/"
    assert response.context["user"].username == "ada"
    assert Player.objects.get(user__username="ada").region == "na"


def test_a_sign_up_whose_login_fails_leaves_no_account(client: Any, django_user_model: Any) -> None:
    """No half-created account: the retry signs up instead of hearing "that username exists"."""
    from django.contrib.auth.signals import user_logged_in

    def fail(**kwargs: Any) -> None:
        raise RuntimeError("the login failed")

    user_logged_in.connect(fail, dispatch_uid="test-login-fails")
    try:
        client.raise_request_exception = False
        form = {"username": "ada", "password1": PASSWORD, "password2": PASSWORD, "region": "na"}
        assert client.post("/signup/", form).status_code == 500
        assert not django_user_model.objects.filter(username="ada").exists()
        assert not Player.objects.exists()
    finally:
        user_logged_in.disconnect(dispatch_uid="test-login-fails")
    response = client.post("/signup/", form, follow=True)
    assert response.redirect_chain[-1][0] == "/play/"
    assert response.context["user"].username == "ada"


def test_sign_up_rejects_mismatched_passwords(client: Any) -> None:
    response = client.post("/signup/", {"username": "ada", "password1": PASSWORD, "password2": "other-pass-99"})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not Player.objects.exists()


def test_log_in_and_out(client: Any, make_player: Any) -> None:
    make_player("bob")
    response = client.post("/login/", {"username": "bob", "password": PASSWORD}, follow=True)
    assert response.context["user"].username == "bob"
    response = client.post("/logout/", follow=True)
    assert not response.context["user"].is_authenticated


def test_wrong_password_shows_an_error(client: Any, make_player: Any) -> None:
    make_player("bob")
    response = client.post("/login/", {"username": "bob", "password": "nope-nope-nope"})
    assert response.status_code == 200
    assert b"Wrong username or password" in response.content


def test_play_needs_a_login(client: Any) -> None:
    response = client.get("/play/")
    assert response.status_code == 302
    assert response.url.startswith("/login/")


def test_playing_a_round_adds_to_both_totals(client: Any, make_player: Any) -> None:
    player = make_player("cy")
    client.login(username="cy", password=PASSWORD)
    response = client.post("/play/", {"score": 120})
    assert response.status_code == 200
    assert response.context["played"].score == 120
    client.post("/play/", {"score": 30})
    player.refresh_from_db()
    assert (player.score, player.weekly_score, player.rounds_played, player.week) == (150, 150, 2, current_season())
    assert sorted(Round.objects.filter(player=player).values_list("score", flat=True)) == [30, 120]


def test_play_without_a_score_rolls_one(client: Any, make_player: Any) -> None:
    player = make_player("cy")
    client.login(username="cy", password=PASSWORD)
    client.post("/play/")
    player.refresh_from_db()
    assert player.rounds_played == 1
    assert 0 <= player.score <= 1000


def test_play_rejects_an_out_of_range_score(client: Any, make_player: Any) -> None:
    player = make_player("cy")
    client.login(username="cy", password=PASSWORD)
    response = client.post("/play/", {"score": 5000})
    assert response.status_code == 200
    assert response.context["form"].errors["score"]
    player.refresh_from_db()
    assert player.rounds_played == 0


def test_api_play_returns_json(client: Any, make_player: Any) -> None:
    make_player("dee")
    client.login(username="dee", password=PASSWORD)
    response = client.post("/api/play", {"score": 70}, content_type="application/json")
    assert response.status_code == 200
    assert response.json() == {"score": 70, "total": 70, "weekly": 70}


def test_api_play_needs_a_login(client: Any) -> None:
    response = client.post("/api/play", {"score": 70}, content_type="application/json")
    assert response.status_code == 401


def test_api_play_rejects_bad_json(client: Any, make_player: Any) -> None:
    make_player("dee")
    client.login(username="dee", password=PASSWORD)
    response = client.post("/api/play", "{not json", content_type="application/json")
    assert response.status_code == 400


def test_leaderboard_shows_top_and_my_rank(client: Any, make_player: Any) -> None:
    for i, score in enumerate([500, 400, 300, 200, 100]):
        make_player(f"p{i}", score=score)
    me = make_player("me", score=250)
    client.login(username="me", password=PASSWORD)
    response = client.get("/leaderboard/")
    assert response.status_code == 200
    assert [row["name"] for row in response.context["top"]] == ["p0", "p1", "p2", "me", "p3", "p4"]
    assert response.context["me"]["rank"] == 4
    around = response.context["me"]["around"]
    assert [row["name"] for row in around] == ["p0", "p1", "p2", "me", "p3", "p4"]
    assert b"Your rank: <strong>#4</strong>" in response.content
    assert me.pk == response.context["me"]["player_id"]
    assert response.context["size"] == 6  # "#4 of 6": the board's size came with the neighbours


def test_the_top_fifty_is_cached_and_the_rank_is_live(client: Any, make_player: Any) -> None:
    for i in range(52):
        make_player(f"p{i:02d}", score=1000 - i)
    first = client.get("/leaderboard/")
    assert len(first.context["top"]) == 50 and first.context["top"][0]["name"] == "p00"
    make_player("newcomer", score=5000)
    client.login(username="newcomer", password=PASSWORD)
    second = client.get("/leaderboard/")
    # The top 50 comes from the cache (rebuilt at most every few seconds) ...
    assert [row["name"] for row in second.context["top"]] == [row["name"] for row in first.context["top"]]
    # ... while the visitor's own rank and the board's size are read live.
    assert second.context["me"]["rank"] == 1 and second.context["size"] == 53


def test_leaderboard_ties_share_a_rank(client: Any, make_player: Any) -> None:
    make_player("a", score=300)
    make_player("b", score=200)
    make_player("c", score=200)
    make_player("d", score=100)
    response = client.get("/leaderboard/")
    assert [(row["name"], row["rank"]) for row in response.context["top"]] == [("a", 1), ("b", 2), ("c", 2), ("d", 4)]


def test_weekly_tab_counts_only_this_weeks_rounds(client: Any, make_player: Any) -> None:
    make_player("old", score=900)  # played in earlier weeks only
    fresh = make_player("fresh")
    client.login(username="fresh", password=PASSWORD)
    client.post("/play/", {"score": 40})
    response = client.get("/leaderboard/?board=weekly")
    assert [(row["name"], row["score"]) for row in response.context["top"]] == [("fresh", 40)]
    assert response.context["me"]["rank"] == 1
    fresh.refresh_from_db()
    assert fresh.weekly_score == 40


def test_anonymous_leaderboard_has_no_rank(client: Any, make_player: Any) -> None:
    make_player("a", score=10)
    response = client.get("/leaderboard/?board=nonsense")
    assert response.status_code == 200
    assert response.context["board"] == "alltime"
    assert response.context["me"] == {}


def test_seasons_page_lists_closed_seasons(client: Any, make_player: Any) -> None:
    make_player("w")
    client.login(username="w", password=PASSWORD)
    client.post("/play/", {"score": 70})
    call_command("close_season", verbosity=0)
    response = client.get("/seasons/")
    assert response.status_code == 200
    assert b"<td>w</td>" in response.content
    assert SeasonSnapshot.objects.get().winners.get().score == 70


def test_close_season_last_week_and_bad_arguments(client: Any, make_player: Any) -> None:
    import datetime

    from django.core.management.base import CommandError
    from django.utils import timezone

    make_player("w")
    client.login(username="w", password=PASSWORD)
    client.post("/play/", {"score": 70})  # this week's points: not last week's
    call_command("close_season", "--season", "last", verbosity=0)
    last_week = current_season(timezone.now() - datetime.timedelta(days=7))
    snapshot = SeasonSnapshot.objects.get()
    assert (snapshot.season, snapshot.winners.count()) == (last_week, 0)
    with pytest.raises(CommandError, match="--season must look like 2026-W48"):
        call_command("close_season", "--season", "week-48", verbosity=0)
    with pytest.raises(CommandError, match="--top must be >= 1"):
        call_command("close_season", "--top", "0", verbosity=0)


def test_devices_needs_a_login(client: Any) -> None:
    assert client.get("/devices/").status_code == 302


def test_admin_pages_open(admin_client: Any, make_player: Any) -> None:
    make_player("a", score=10)
    for url in ("/admin/", "/admin/arcade/player/", "/admin/arcade/round/", "/admin/arcade/seasonsnapshot/"):
        assert admin_client.get(url).status_code == 200, url


def test_admin_leaderboard_page_ranks_players(admin_client: Any, make_player: Any) -> None:
    make_player("low", score=10)
    make_player("high", score=900)
    make_player("mid", score=300)
    page = admin_client.get("/admin/arcade/player/leaderboard/")
    assert page.status_code == 200
    text = page.content.decode()
    assert text.index(">high<") < text.index(">mid<") < text.index(">low<")


def test_admin_shows_a_users_sessions(admin_client: Any, make_player: Any) -> None:
    player = make_player("gus")
    _device("gus", "Phone/2.0", "192.0.2.2")
    page = admin_client.get(f"/admin/auth/user/{player.user_id}/sessions/")
    assert page.status_code == 200
    assert b"Phone/2.0" in page.content


def test_seed_arcade_creates_players_once(make_player: Any) -> None:
    call_command("seed_arcade", players=300, batch=128, verbosity=0)
    assert Player.objects.filter(user__username__startswith="player").count() == 300
    assert Player.objects.filter(user__username__in=["demo", "admin"]).count() == 2
    call_command("seed_arcade", players=300, if_empty=True, verbosity=0)
    assert Player.objects.count() == 302


def test_seed_arcade_shows_its_progress() -> None:
    import io

    out = io.StringIO()
    call_command("seed_arcade", players=200, batch=50, stdout=out)  # not a terminal: a line per 10 %
    lines = [line for line in out.getvalue().splitlines() if line.startswith("players [")]
    assert lines and lines[-1].startswith("players [" + "#" * 30 + "] 200/200"), out.getvalue()
    assert len(lines) == len(set(lines)) >= 2  # several steps, none printed twice


# -- rate limiting --------------------------------------------------------------------------


def test_the_eleventh_round_in_a_minute_gets_the_429_page(client: Any, make_player: Any) -> None:
    player = make_player("eve")
    client.login(username="eve", password=PASSWORD)
    statuses = [client.post("/play/", {"score": 10}).status_code for _ in range(12)]
    assert statuses == [200] * 10 + [429] * 2
    limited = client.post("/play/", {"score": 10})
    assert limited.status_code == 429
    assert b"Whoa, slow down!" in limited.content
    assert b"10 rounds a minute" in limited.content
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert limited["RateLimit-Policy"] == '"1m";q=10;w=60'
    assert limited["RateLimit"].startswith('"1m";r=0;')
    player.refresh_from_db()
    assert player.rounds_played == 10
    # Looking is still fine: only playing is limited.
    assert client.get("/play/").status_code == 200


def test_the_page_and_the_api_share_one_limit(client: Any, make_player: Any) -> None:
    make_player("eve")
    client.login(username="eve", password=PASSWORD)
    assert [client.post("/play/", {"score": 1}).status_code for _ in range(10)] == [200] * 10
    assert client.post("/api/play", {"score": 1}, content_type="application/json").status_code == 429


def test_players_are_limited_separately(client: Any, make_player: Any) -> None:
    make_player("eve")
    make_player("fay")
    client.login(username="eve", password=PASSWORD)
    assert [client.post("/play/", {"score": 1}).status_code for _ in range(11)][-1] == 429
    client.logout()
    client.login(username="fay", password=PASSWORD)
    assert client.post("/play/", {"score": 1}).status_code == 200


def test_api_play_limited_gets_problem_json(client: Any, make_player: Any) -> None:
    make_player("dee")
    client.login(username="dee", password=PASSWORD)
    responses = [client.post("/api/play", {"score": 5}, content_type="application/json") for _ in range(11)]
    assert [r.status_code for r in responses] == [200] * 10 + [429]
    limited = responses[-1]
    assert limited["Content-Type"] == "application/problem+json"
    body = limited.json()
    assert body["status"] == 429
    assert body["type"].endswith("#quota-exceeded")
    assert body["retry_after"] == int(limited["Retry-After"])
    assert limited["RateLimit-Policy"] == '"1m";q=10;w=60'
    assert limited["RateLimit"].startswith('"1m";r=0;')


def test_anonymous_visitors_are_limited_per_ip(client: Any) -> None:
    statuses = [client.post("/api/play", {}, content_type="application/json").status_code for _ in range(11)]
    assert statuses == [401] * 10 + [429]
    other_address = client.post("/api/play", {}, content_type="application/json", REMOTE_ADDR="10.1.2.3")
    assert other_address.status_code == 401


def test_login_brute_force_is_refused_after_ten_attempts(client: Any, make_player: Any) -> None:
    make_player("bob")
    attempts = [client.post("/login/", {"username": "bob", "password": f"guess-{i}"}) for i in range(11)]
    assert [a.status_code for a in attempts] == [200] * 10 + [429]
    assert b"Too many login attempts" in attempts[-1].content
    # Even the right password waits now, from this address; another address may log in.
    assert client.post("/login/", {"username": "bob", "password": PASSWORD}).status_code == 429
    response = client.post("/login/", {"username": "bob", "password": PASSWORD}, REMOTE_ADDR="10.9.9.9")
    assert response.status_code == 302


# -- sessions: "your devices" ------------------------------------------------------------------


def _device(username: str, agent: str, address: str) -> Any:
    from django.test import Client

    device = Client(HTTP_USER_AGENT=agent, REMOTE_ADDR=address)
    response = device.post("/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return device


def test_devices_lists_every_session_of_the_user(make_player: Any) -> None:
    make_player("gus")
    make_player("someone-else")
    laptop = _device("gus", "Laptop/1.0", "192.0.2.1")
    _device("gus", "Phone/2.0", "192.0.2.2")
    _device("someone-else", "Other/3.0", "192.0.2.3")
    page = laptop.get("/devices/")
    assert page.status_code == 200
    sessions = page.context["sessions"]
    assert sorted((s.user_agent, s.ip, s.current) for s in sessions) == [
        ("Laptop/1.0", "192.0.2.1", True),
        ("Phone/2.0", "192.0.2.2", False),
    ]
    assert b"Phone/2.0" in page.content
    assert page.content.count(b'class="device') == 2
    # "last seen": every session was used a moment ago, and the page says so
    assert all(s.last_seen is not None for s in sessions)
    assert all(abs((timezone.now() - s.last_seen).total_seconds()) < 120 for s in sessions)
    assert page.content.count(b"0\xc2\xa0minutes ago") == 2


def test_log_out_everywhere_else(make_player: Any) -> None:
    make_player("gus")
    laptop = _device("gus", "Laptop/1.0", "192.0.2.1")
    phone = _device("gus", "Phone/2.0", "192.0.2.2")
    tablet = _device("gus", "Tablet/3.0", "192.0.2.3")
    response = laptop.post("/devices/logout-others/", follow=True)
    assert b"Logged out 2 other devices." in response.content
    assert [s.user_agent for s in response.context["sessions"]] == ["Laptop/1.0"]
    assert phone.get("/play/").status_code == 302
    assert tablet.get("/play/").status_code == 302
    assert laptop.get("/play/").status_code == 200


def test_revoke_one_device(make_player: Any) -> None:
    make_player("gus")
    laptop = _device("gus", "Laptop/1.0", "192.0.2.1")
    phone = _device("gus", "Phone/2.0", "192.0.2.2")
    tablet = _device("gus", "Tablet/3.0", "192.0.2.3")
    sessions = laptop.get("/devices/").context["sessions"]
    phone_ref = next(s.ref for s in sessions if s.user_agent == "Phone/2.0")
    laptop.post("/devices/revoke/", {"session": phone_ref})
    assert phone.get("/play/").status_code == 302
    assert tablet.get("/play/").status_code == 200
    assert sorted(s.user_agent for s in laptop.get("/devices/").context["sessions"]) == ["Laptop/1.0", "Tablet/3.0"]


def test_sessions_live_in_redis(client: Any, make_player: Any, topology: Any) -> None:
    from django.contrib.sessions.models import Session

    make_player("gus")
    client.post("/login/", {"username": "gus", "password": PASSWORD})
    assert client.get("/play/").status_code == 200
    assert not Session.objects.exists()
    topology.flush()  # the session was in Redis only: emptying Redis logs the player out
    assert client.get("/play/").status_code == 302


def test_the_leaderboard_comes_back_after_redis_loses_its_data(client: Any, make_player: Any, arcade_site: Any) -> None:
    for i, score in enumerate([500, 400, 300, 200, 100]):
        make_player(f"p{i}", score=score)
    call_command("leaderboard_rebuild", "arcade.Player", verbosity=0)
    assert len(client.get("/leaderboard/").context["top"]) == 5
    arcade_site.flush()  # Redis restarted empty / failed over to an empty replica / FLUSHALL
    response = client.get("/leaderboard/")
    # the first read found the board's marker gone and rebuilt it from the table
    assert [(row["name"], row["rank"]) for row in response.context["top"]] == [
        ("p0", 1),
        ("p1", 2),
        ("p2", 3),
        ("p3", 4),
        ("p4", 5),
    ]
    assert b"Nobody has played yet" not in response.content
