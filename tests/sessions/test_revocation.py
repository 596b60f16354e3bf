"""A revoked session never comes back: not through cycle_key() (what login() and
update_session_auth_hash() call), not through save(), not in a race with the revocation."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.contrib.sessions.backends.base import UpdateError

from django_redis_patterns import get_redis
from django_redis_patterns.sessions import (
    alogout_everywhere,
    arevoke_session,
    logout_everywhere,
    revoke_session,
    user_sessions,
)
from django_redis_patterns.sessions.backend import SessionStore
from tests.topologies import standalone_and_cluster

UID = "7"


def _logged_in(**extra: Any) -> str:
    s = SessionStore()
    s["_auth_user_id"] = UID
    s["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    s["_auth_user_hash"] = "old-hash"
    s.update(extra)
    s.save()
    assert s.session_key is not None
    return s.session_key


def _live_logins(topology: Any) -> list[str]:
    """Every session key in Redis that still carries the user's login."""
    found = []
    for client in topology.group.data_clients():
        with client:
            for raw in client.scan_iter(match="session:s:*", count=1000):
                key = raw.decode().removeprefix("session:s:")
                if SessionStore(key).get("_auth_user_id") == UID:
                    found.append(key)
    return found


def _password_change(request_session: Any) -> None:
    """What update_session_auth_hash() does to the request's session, then the middleware's save."""
    request_session.cycle_key()
    request_session["_auth_user_hash"] = "new-hash"
    request_session.save()


@standalone_and_cluster
@pytest.mark.parametrize("revoke", ["revoke_session", "logout_everywhere"])
def test_cycle_key_after_revocation_does_not_revive_the_login(topology: Any, revoke: str) -> None:
    key = _logged_in(cart=[1])
    request_session = SessionStore(key)
    assert request_session["cart"] == [1]  # the request has loaded it
    if revoke == "revoke_session":
        assert revoke_session(UID, key) is True
    else:
        assert logout_everywhere(UID) == 1
    _password_change(request_session)
    assert request_session.session_key != key
    assert request_session.get("_auth_user_id") is None  # the request goes on anonymous
    assert "cart" not in request_session
    assert _live_logins(topology) == []
    assert user_sessions(UID) == []


@standalone_and_cluster
async def test_async_cycle_key_after_revocation_does_not_revive_the_login(topology: Any) -> None:
    for revoke in ("revoke_session", "logout_everywhere"):
        key = _logged_in()
        request_session = SessionStore(key)
        assert await request_session.aget("_auth_user_id") == UID
        if revoke == "revoke_session":
            assert await arevoke_session(UID, key) is True
        else:
            assert await alogout_everywhere(UID) == 1
        await request_session.acycle_key()
        await request_session.aset("_auth_user_hash", "new-hash")
        await request_session.asave()
        assert await request_session.aget("_auth_user_id") is None
        assert _live_logins(topology) == []


@standalone_and_cluster
def test_save_after_revocation_does_not_revive_the_session(topology: Any, settings: Any) -> None:
    key = _logged_in()
    request_session = SessionStore(key)
    assert request_session.get("_auth_user_id") == UID  # the request has loaded it
    assert revoke_session(UID, key) is True
    request_session["seen"] = 1
    request_session._header = None  # also when the save would refresh the index entry
    with pytest.raises(UpdateError):
        request_session.save()
    assert get_redis().exists(f"session:s:{key}") == 0
    assert _live_logins(topology) == []


@standalone_and_cluster
def test_a_rotation_just_before_the_revocation_is_revoked_too(topology: Any) -> None:
    """The revoker listed the old key; the request rotated it before the tombstone went in."""
    key = _logged_in()
    request_session = SessionStore(key)
    assert request_session.get("_auth_user_id") == UID  # the request has loaded it
    listed = [s.session_key for s in user_sessions(UID)]
    _password_change(request_session)  # rotated to a new key and indexed
    assert _live_logins(topology) == [request_session.session_key]
    from django_redis_patterns.sessions import index
    from django_redis_patterns.sessions.runtime import current

    rt = current()
    index._revoke(rt, get_redis(), UID, listed)  # revoke_session's write, with the stale list
    assert _live_logins(topology) == []


def _race_once(revoke: str) -> tuple[bool, str | None]:
    """A revocation and a password change on the same loaded session, released together:
    (whether the revocation found something to revoke, the request's session key after)."""
    key = _logged_in()
    request_session = SessionStore(key)
    assert request_session.get("_auth_user_id") == UID
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    revoked: list[bool] = []

    def revoker() -> None:
        barrier.wait()
        try:
            if revoke == "revoke_session":
                revoked.append(revoke_session(UID, key))
            else:
                revoked.append(logout_everywhere(UID) > 0)
        except BaseException as exc:
            errors.append(exc)

    def request() -> None:
        barrier.wait()
        try:
            _password_change(request_session)
        except UpdateError:
            pass  # Django's answer to a session deleted under the request
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=revoker), threading.Thread(target=request)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return revoked == [True], request_session.session_key


@standalone_and_cluster
@pytest.mark.parametrize("revoke", ["revoke_session", "logout_everywhere"])
def test_revocation_racing_cycle_key_never_revives(topology: Any, revoke: str) -> None:
    runs, revived, raced = 40, 0, 0
    for _ in range(runs):
        found, new_key = _race_once(revoke)
        live = _live_logins(topology)
        if revoke == "logout_everywhere" or found:
            # logout_everywhere revokes whatever the index holds when it writes; a
            # revoke_session that found the key revokes it and what it was rotated to.
            raced += 1
            revived += len(live)
        else:
            # revoke_session listed the sessions after the rotation: the key it was given was
            # already gone, so there was nothing to revoke and the new key lives on, rightly.
            assert live == [new_key]
        logout_everywhere(UID)  # clean slate for the next run
        assert _live_logins(topology) == []
    assert raced > 0
    assert revived == 0, f"{revived} of {raced} revocations were undone by cycle_key"
