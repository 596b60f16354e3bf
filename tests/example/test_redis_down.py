"""The arcade with its Redis killed: every page answers, as docs/operations.md describes."""

from __future__ import annotations

from typing import Any

import pytest
from arcade.models import Player, Round

from tests.example.conftest import PASSWORD

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture
def doomed_redis(redis_factory: Any, settings: Any) -> Any:
    """A throw-away server behind CACHES["default"], to be killed by the test."""
    from django_redis_patterns.client import connections

    group = redis_factory("standalone")
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": group.url}}
    connections.reset()
    return group


def test_redis_down_degrades_page_by_page(client: Any, make_player: Any, doomed_redis: Any) -> None:
    make_player("ada", score=100)
    assert client.post("/login/", {"username": "ada", "password": PASSWORD}).status_code == 302
    assert client.post("/play/", {"score": 50}).status_code == 200
    assert client.get("/leaderboard/").context["me"]["rank"] == 1

    doomed_redis.servers[0].kill()

    home = client.get("/")
    assert home.status_code == 200
    assert b'id="visits"' not in home.content  # the Redis counter is left out

    board = client.get("/leaderboard/")
    assert board.status_code == 503
    assert b"The leaderboard is unavailable for a moment" in board.content

    # Sessions (ON_ERROR="anonymous"): the player looks logged out; the page still renders.
    play = client.get("/play/")
    assert play.status_code == 302
    assert play.url.startswith("/login/")

    # The login rule fails closed (FAIL_OPEN=False): no password guessing while limits are blind.
    login = client.post("/login/", {"username": "ada", "password": PASSWORD})
    assert login.status_code == 503
    assert b"cannot check its limits" in login.content

    # Nothing committed was lost: the round played before the outage is in the database.
    assert Round.objects.get().score == 50
    assert Player.objects.get(name="ada").score == 150


def test_api_play_while_only_the_sessions_redis_is_down_is_a_503_not_a_401(
    client: Any, make_player: Any, redis_factory: Any, settings: Any
) -> None:
    """On Cluster a failover takes down one node: a player's session may be unreadable while the
    rate limiter (another slot) answers. The API must not tell a logged-in client to log in."""
    group = redis_factory("standalone")  # a new alias: no client of it is cached yet
    settings.CACHES = {**settings.CACHES, "sessions": {**settings.CACHES["default"], "LOCATION": group.url}}
    settings.SESSION_CACHE_ALIAS = "sessions"
    make_player("ada")
    assert client.post("/login/", {"username": "ada", "password": PASSWORD}).status_code == 302
    assert client.post("/api/play", {"score": 5}, content_type="application/json").status_code == 200

    group.servers[0].kill()

    play = client.post("/api/play", {"score": 5}, content_type="application/json")
    assert play.status_code == 503, play.content
    assert play["Content-Type"] == "application/problem+json" and int(play["Retry-After"]) > 0
    assert Round.objects.count() == 1  # nothing was played for the anonymous-looking request
    # A visitor who is really not logged in still gets the 401.
    from django.test import Client

    assert Client().post("/api/play", {"score": 5}, content_type="application/json").status_code == 401
