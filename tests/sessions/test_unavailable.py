"""Redis unreachable: ON_ERROR="raise" and "anonymous", logged once per incident."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import redis.exceptions
from django.test import Client

from django_redis_patterns import get_redis
from django_redis_patterns.sessions import SessionUnavailable
from django_redis_patterns.sessions.backend import SessionStore
from tests.sessions.conftest import point_default_at
from tests.topologies import SHORT_COOLDOWN, after_cooldown

LOGGER = "django_redis_patterns.sessions"


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= logging.ERROR]


@pytest.fixture
def doomed(redis_factory: Any, settings: Any) -> Any:
    """A server that holds one session (key returned as .key) and that the test may stop."""
    group = redis_factory("standalone")
    point_default_at(settings, group.url, CIRCUIT_BREAKER_COOLDOWN=SHORT_COOLDOWN)
    s = SessionStore()
    s["cart"] = ["book"]
    s.save()
    group.key = s.session_key
    return group


def test_raise_mode_raises_a_clear_error_logged_once(doomed: Any, caplog: pytest.LogCaptureFixture) -> None:
    doomed.primary.stop()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for _ in range(5):
            with pytest.raises(SessionUnavailable) as info:
                SessionStore(doomed.key).load()
            assert info.value.alias == "default" and info.value.command == "GET"
            assert isinstance(info.value, redis.exceptions.ConnectionError)  # what RedisCache users catch
            assert "session store unavailable (cache alias 'default', GET)" in str(info.value)
        with pytest.raises(SessionUnavailable):
            SessionStore().save()
        with pytest.raises(SessionUnavailable):
            SessionStore(doomed.key).delete()
    errors = _errors(caplog)
    assert len(errors) == 1 and "alias='default'" in errors[0] and "command=GET" in errors[0]

    doomed.primary.start()
    after_cooldown()  # the alias failed fast for its cool-down; the next call finds it back
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert SessionStore().exists("x" * 32) is False  # reachable again: recovery logged once
        SessionStore(doomed.key).load()
    assert [r.getMessage() for r in caplog.records] == ["Session store reachable again (alias='default')"]


async def test_raise_mode_async(doomed: Any) -> None:
    doomed.primary.stop()
    with pytest.raises(SessionUnavailable):
        await SessionStore(doomed.key).aload()
    with pytest.raises(SessionUnavailable):
        await SessionStore().asave()


@pytest.mark.django_db
def test_raise_mode_request_is_a_server_error(doomed: Any, settings: Any) -> None:
    doomed.primary.stop()
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = doomed.key
    assert client.get("/whoami/").status_code == 500


@pytest.mark.django_db
def test_anonymous_mode_request_proceeds_with_an_empty_session(
    doomed: Any, sessions_setting: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sessions_setting(ON_ERROR="anonymous")
    doomed.primary.stop()
    client = Client()
    client.cookies["sessionid"] = doomed.key
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for _ in range(3):
            response = client.get("/bump/")  # reads and writes the session
            assert response.status_code == 200
            assert response.json() == {"n": 1}  # an empty session each time, never saved
            assert client.cookies["sessionid"].value == doomed.key  # the browser keeps its cookie
            assert client.get("/whoami/").json()["authenticated"] is False
    assert len(_errors(caplog)) == 1


def test_anonymous_mode_never_touches_stored_data(doomed: Any, sessions_setting: Any, settings: Any) -> None:
    """Redis stalls during load (paused), comes back before save: the stored session is left alone."""
    sessions_setting(ON_ERROR="anonymous")
    point_default_at(settings, doomed.url, SOCKET_TIMEOUT=0.3, RETRIES=0, CIRCUIT_BREAKER_COOLDOWN=SHORT_COOLDOWN)
    s = SessionStore(doomed.key)
    doomed.primary.pause()
    try:
        assert dict(s.items()) == {}
    finally:
        doomed.primary.resume()
    after_cooldown()
    s["cart"] = []
    s.save()
    s.delete()
    s.cycle_key()
    assert SessionStore(doomed.key)["cart"] == ["book"]
    assert get_redis("default").dbsize() == 1


def test_anonymous_mode_tells_an_unreadable_session_from_an_empty_one(doomed: Any, sessions_setting: Any) -> None:
    """``unavailable``: empty because Redis failed, not because the visitor is new (a JSON API
    answers 503 then, not 401 "log in")."""
    sessions_setting(ON_ERROR="anonymous")
    stored, new = SessionStore(doomed.key), SessionStore()
    assert stored["cart"] == ["book"] and not stored.unavailable
    assert new.get("cart") is None and not new.unavailable
    doomed.primary.stop()
    unreadable = SessionStore(doomed.key)
    assert unreadable.get("cart") is None and unreadable.unavailable


async def test_anonymous_mode_async(doomed: Any, sessions_setting: Any) -> None:
    sessions_setting(ON_ERROR="anonymous")
    doomed.primary.stop()
    s = SessionStore(doomed.key)
    assert await s.aget("cart") is None
    assert s.unavailable
    await s.aset("cart", [])
    await s.asave()
    assert s.session_key == doomed.key


def _data_nodes(group: Any) -> list[Any]:
    if group.kind == "sentinel":
        return [group.primary, *group.replicas]
    return list(group.servers)


@pytest.mark.parametrize("kind", ["standalone", "sentinel", "cluster"])
def test_every_topology_fails_clearly_in_both_modes(
    kind: str, redis_factory: Any, settings: Any, sessions_setting: Any, caplog: pytest.LogCaptureFixture
) -> None:
    group = redis_factory(kind)
    point_default_at(settings, group.url)
    s = SessionStore()
    s["a"] = 1
    s.save()
    for server in _data_nodes(group):
        server.stop()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        with pytest.raises(SessionUnavailable):
            SessionStore(s.session_key).load()
        with pytest.raises(SessionUnavailable):
            SessionStore().save()
        sessions_setting(ON_ERROR="anonymous")
        anonymous = SessionStore(s.session_key)
        assert anonymous.get("a") is None
        anonymous["b"] = 2
        anonymous.save()
        assert anonymous.session_key == s.session_key
    assert len(_errors(caplog)) == 1


@pytest.mark.django_db
def test_anonymous_mode_login_during_an_outage_keeps_the_cookie(
    doomed: Any, sessions_setting: Any, django_user_model: Any
) -> None:
    django_user_model.objects.create_user("alice", password="pw")
    sessions_setting(ON_ERROR="anonymous")
    doomed.primary.stop()
    client = Client()
    client.cookies["sessionid"] = doomed.key
    assert client.post("/login/", {"username": "alice"}).status_code == 200
    assert client.cookies["sessionid"].value == doomed.key  # not replaced by a key that was never stored
    assert client.get("/whoami/").json()["authenticated"] is False  # the login itself could not be kept
    s = SessionStore(doomed.key)
    s.cycle_key()
    assert s.session_key == doomed.key
