"""Request-level: login/logout through the middleware, the user's index, devices page, admin page."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.test import Client

from django_redis_patterns import get_redis
from django_redis_patterns.sessions import logout_everywhere, revoke_session, user_sessions
from django_redis_patterns.sessions.admin import UserSessionsAdminMixin, register_user_sessions_admin
from django_redis_patterns.sessions.backend import SessionStore
from tests.sessions.conftest import command_counts, reset_command_counts
from tests.topologies import all_topologies

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice", password="pw")


def _client(ua: str, ip: str = "127.0.0.1") -> Client:
    return Client(HTTP_USER_AGENT=ua, REMOTE_ADDR=ip)


def _login(client: Client, username: str = "alice") -> str:
    assert client.post("/login/", {"username": username}).status_code == 200
    return client.cookies["sessionid"].value


def _whoami(client: Client) -> dict[str, Any]:
    return client.get("/whoami/").json()  # type: ignore[no-any-return]


@all_topologies
def test_login_lists_the_session_with_ip_and_browser(topology: Any, alice: Any) -> None:
    laptop = _client("Firefox on laptop", "10.0.0.1")
    laptop.get("/bump/")  # an anonymous session first: login must cycle it
    anonymous_key = laptop.cookies["sessionid"].value
    key = _login(laptop)
    assert key != anonymous_key
    [entry] = user_sessions(alice)
    assert entry.session_key == key
    assert (entry.ip, entry.user_agent) == ("10.0.0.1", "Firefox on laptop")
    assert entry.created is not None and entry.last_seen is not None and entry.expires is not None
    assert _whoami(laptop)["username"] == "alice"


@all_topologies
def test_two_clients_two_entries_and_logout_everywhere_keeps_current(topology: Any, alice: Any) -> None:
    laptop, phone = _client("laptop"), _client("phone", "10.0.0.9")
    laptop_key, phone_key = _login(laptop), _login(phone)
    listed = user_sessions(alice, current=laptop_key)
    assert {s.session_key for s in listed} == {laptop_key, phone_key}
    assert [s.user_agent for s in listed if s.current] == ["laptop"]

    assert logout_everywhere(alice, keep=laptop_key) == 1
    assert _whoami(phone)["authenticated"] is False  # logged out at its next request
    assert _whoami(laptop)["authenticated"] is True
    assert [s.session_key for s in user_sessions(alice)] == [laptop_key]


@all_topologies
def test_logout_removes_the_entry(topology: Any, alice: Any) -> None:
    laptop, phone = _client("laptop"), _client("phone")
    _login(laptop)
    phone_key = _login(phone)
    laptop.get("/logout/")
    assert [s.session_key for s in user_sessions(alice)] == [phone_key]
    # Not only filtered out when read: gone from the index itself.
    zset = f"session:u:{{{alice.pk}}}:z"
    assert [m.decode() for m in get_redis("default").zrange(zset, 0, -1)] == [phone_key]


@all_topologies
def test_expired_sessions_leave_the_index(topology: Any, alice: Any) -> None:
    s = SessionStore()
    s["_auth_user_id"] = str(alice.pk)
    s.set_expiry(1)
    s.save()
    keeper = SessionStore()
    keeper["_auth_user_id"] = str(alice.pk)
    keeper.save()
    assert len(user_sessions(alice)) == 2
    deadline = time.monotonic() + 10
    while get_redis("default").exists(f"session:s:{s.session_key}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [x.session_key for x in user_sessions(alice)] == [keeper.session_key]
    zset = f"session:u:{{{alice.pk}}}:z"
    assert get_redis("default").zscore(zset, s.session_key) is None  # pruned on read


@all_topologies
def test_cycle_key_of_a_logged_in_session_moves_the_entry(topology: Any, alice: Any) -> None:
    laptop = _client("laptop", "10.1.1.1")
    old_key = _login(laptop)
    [before] = user_sessions(alice)
    s = SessionStore(old_key)
    s.load()
    s.cycle_key()  # e.g. update_session_auth_hash after a password change
    [after] = user_sessions(alice)
    assert after.session_key == s.session_key != old_key
    assert (after.created, after.ip, after.user_agent) == (before.created, "10.1.1.1", "laptop")


@all_topologies
def test_revoke_session_only_touches_that_users_sessions(topology: Any, alice: Any, django_user_model: Any) -> None:
    bob = django_user_model.objects.create_user("bob", password="pw")
    alice_client, bob_client = _client("a"), _client("b")
    _login(alice_client, "alice")
    bob_key = _login(bob_client, "bob")
    assert revoke_session(alice, bob_key) is False
    assert _whoami(bob_client)["authenticated"] is True
    assert [s.session_key for s in user_sessions(bob)] == [bob_key]
    [entry] = user_sessions(alice)
    assert revoke_session(alice, entry.ref) is True
    assert _whoami(alice_client)["authenticated"] is False
    assert user_sessions(alice) == []
    with pytest.raises(ValueError, match="session"):
        revoke_session(alice, "")


@all_topologies
def test_concurrent_logins_are_all_indexed(topology: Any, alice: Any) -> None:
    """12 sessions become alice's at the same moment (threads on a barrier): the index lists exactly those 12."""
    barrier = threading.Barrier(12)
    keys: list[str] = []
    lock = threading.Lock()

    def go(i: int) -> None:
        s = SessionStore(ip=f"10.0.0.{i}", user_agent=f"browser {i}")
        s["cart"] = i
        s.save()
        s.cycle_key()  # what login() does, then it stores the user id
        s["_auth_user_id"] = str(alice.pk)
        barrier.wait()
        s.save()
        with lock:
            keys.append(s.session_key)  # type: ignore[arg-type]

    threads = [threading.Thread(target=go, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    listed = user_sessions(alice)
    assert sorted(s.session_key for s in listed) == sorted(keys)
    assert len(keys) == 12
    assert sorted(s.user_agent for s in listed) == sorted(f"browser {i}" for i in range(12))


@all_topologies
def test_devices_page_lists_and_logs_out_other_devices(topology: Any, alice: Any) -> None:
    laptop, phone, tablet = _client("Laptop browser"), _client("Phone browser"), _client("Tablet browser")
    for c in (laptop, phone, tablet):
        _login(c)
    page = laptop.get("/devices/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Laptop browser" in html and "Phone browser" in html and "Tablet browser" in html
    assert laptop.cookies["sessionid"].value not in html  # keys are never shown, refs are
    phone_ref = next(s.ref for s in user_sessions(alice) if s.user_agent == "Phone browser")
    response = laptop.post("/devices/revoke/", {"session": phone_ref})
    assert response.status_code == 302
    assert _whoami(phone)["authenticated"] is False
    assert _whoami(tablet)["authenticated"] is True
    laptop.post("/devices/logout-others/")
    assert _whoami(tablet)["authenticated"] is False
    assert _whoami(laptop)["authenticated"] is True
    assert "/login/" in Client().get("/devices/")["Location"] or Client().get("/devices/").status_code == 302


@all_topologies
def test_admin_user_page_links_to_sessions_and_revokes(
    topology: Any, alice: Any, django_user_model: Any, sessions_admin: Any
) -> None:
    assert issubclass(sessions_admin, UserSessionsAdminMixin)
    assert register_user_sessions_admin() is sessions_admin  # idempotent
    root = django_user_model.objects.create_superuser("root", password="pw")
    staff = _client("admin browser")
    staff.force_login(root)
    alice_browser = _client("Alice's browser", "10.2.2.2")
    _login(alice_browser)

    change = staff.get(f"/admin/auth/user/{alice.pk}/change/")
    assert change.status_code == 200
    assert f"/admin/auth/user/{alice.pk}/sessions/" in change.content.decode()

    page = staff.get(f"/admin/auth/user/{alice.pk}/sessions/")
    html = page.content.decode()
    assert page.status_code == 200 and "Alice&#x27;s browser" in html and "10.2.2.2" in html
    [entry] = user_sessions(alice)
    assert staff.post(f"/admin/auth/user/{alice.pk}/sessions/", {"session": entry.ref}).status_code == 302
    assert _whoami(alice_browser)["authenticated"] is False
    assert "No active sessions" in staff.get(f"/admin/auth/user/{alice.pk}/sessions/").content.decode()


@all_topologies
def test_admin_sessions_page_needs_user_permissions(
    topology: Any, alice: Any, django_user_model: Any, sessions_admin: Any
) -> None:
    clerk = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    c = _client("clerk")
    c.force_login(clerk)
    assert c.get(f"/admin/auth/user/{alice.pk}/sessions/").status_code == 403


@all_topologies
def test_read_only_requests_refresh_last_seen_and_ip(topology: Any, alice: Any, sessions_setting: Any) -> None:
    sessions_setting(INDEX_REFRESH=1)
    c = _client("ua", "10.0.0.1")
    _login(c)
    [before] = user_sessions(alice)
    time.sleep(1.1)  # let the 1 s refresh interval pass
    assert c.get("/whoami/", REMOTE_ADDR="10.0.0.2").json()["authenticated"] is True  # reads, never saves
    [after] = user_sessions(alice)
    assert after.last_seen > before.last_seen  # type: ignore[operator]
    assert (after.ip, after.created) == ("10.0.0.2", before.created)
    assert abs((after.expires - before.expires).total_seconds()) < 1  # type: ignore[operator]  # TTL untouched
    # The session now knows its entry is fresh: the next read-only requests cost one GET each.
    reset_command_counts(topology.group)
    for _ in range(3):
        c.get("/whoami/")
    counts = command_counts(topology.group)
    assert counts.get("get") == 3
    assert not {k for k in counts if k.startswith(("eval", "set"))}


@all_topologies
def test_stock_session_middleware_still_records_login_details(topology: Any, alice: Any, settings: Any) -> None:
    settings.MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware", *settings.MIDDLEWARE[1:]]
    c = _client("stock browser", "10.3.3.3")
    key = _login(c)
    [entry] = user_sessions(alice)
    assert (entry.session_key, entry.ip, entry.user_agent) == (key, "10.3.3.3", "stock browser")


@all_topologies
def test_index_can_be_switched_off(topology: Any, alice: Any, sessions_setting: Any) -> None:
    sessions_setting(INDEX=False)
    c = _client("x")
    _login(c)
    assert _whoami(c)["authenticated"] is True
    assert user_sessions(alice) == []
    assert get_redis("default").exists(f"session:u:{{{alice.pk}}}:z") == 0


@all_topologies
async def test_async_index_api(topology: Any) -> None:
    from django_redis_patterns.sessions import alogout_everywhere, arevoke_session, auser_sessions

    stores = []
    for ua in ("one", "two", "three"):
        s = SessionStore(user_agent=ua)
        await s.aset("_auth_user_id", "7")
        await s.asave()
        stores.append(s)
    listed = await auser_sessions("7", current=stores[0])
    assert sorted(x.user_agent for x in listed) == ["one", "three", "two"]
    assert [x.user_agent for x in listed if x.current] == ["one"]
    two = next(x for x in listed if x.user_agent == "two")
    assert await arevoke_session("7", two.ref) is True
    assert await arevoke_session("7", two.ref) is False
    assert await alogout_everywhere("7", keep=stores[0]) == 1
    assert [x.session_key for x in await auser_sessions("7")] == [stores[0].session_key]
    assert await SessionStore(stores[2].session_key).aget("_auth_user_id") is None
