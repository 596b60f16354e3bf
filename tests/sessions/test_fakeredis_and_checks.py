"""The engine on fakeredis (django_redis_patterns.testing), and its system checks."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from django_redis_patterns.sessions import logout_everywhere, user_sessions
from django_redis_patterns.sessions.backend import SessionStore
from django_redis_patterns.sessions.checks import sessions_check
from django_redis_patterns.testing import use_fakeredis


@pytest.mark.django_db
def test_engine_and_index_work_on_fakeredis(django_user_model: Any) -> None:
    alice = django_user_model.objects.create_user("alice", password="pw")
    with use_fakeredis():
        s = SessionStore()
        s["a"] = 1
        s.save()
        assert SessionStore(s.session_key)["a"] == 1
        laptop, phone = Client(HTTP_USER_AGENT="laptop"), Client(HTTP_USER_AGENT="phone")
        for c in (laptop, phone):
            assert c.post("/login/", {"username": "alice"}).status_code == 200
        assert sorted(x.user_agent for x in user_sessions(alice)) == ["laptop", "phone"]
        assert logout_everywhere(alice, keep=laptop.cookies["sessionid"].value) == 1
        assert phone.get("/whoami/").json()["authenticated"] is False
        assert laptop.get("/whoami/").json()["authenticated"] is True


async def test_async_engine_on_fakeredis() -> None:
    with use_fakeredis():
        s = SessionStore()
        await s.aset("a", 1)
        await s.asave()
        assert await SessionStore(s.session_key).aget("a") == 1


def _ids(settings: Any, **sessions: Any) -> list[str]:
    settings.REDIS_PATTERNS = {"SESSIONS": sessions}
    return [m.id for m in sessions_check()]  # type: ignore[misc]


def test_checks(settings: Any) -> None:
    assert _ids(settings) == []
    assert _ids(settings, ON_ERROR="ignore") == ["redis_patterns.E010"]
    assert _ids(settings, ON_REPLICATION_TIMEOUT="panic") == ["redis_patterns.E010"]
    assert _ids(settings, MIN_REPLICAS=-1) == ["redis_patterns.E010"]
    assert _ids(settings, INDEX_REFRESH=0) == ["redis_patterns.E010"]
    assert _ids(settings, KEY_PREFIX="{app}:session:") == ["redis_patterns.W010"]
    assert _ids(settings, MIN_REPLICAS=1, MIN_REPLICAS_TIMEOUT=5) == ["redis_patterns.E011"]  # socket timeout 2 s
    [message] = sessions_check()
    assert "MIN_REPLICAS_TIMEOUT" in message.msg and "socket timeout" in message.msg
    assert _ids(settings, MIN_REPLICAS=1, MIN_REPLICAS_TIMEOUT=0.5) == []
