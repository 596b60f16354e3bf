"""CachedModelBackend: the logged-in user comes from Redis, and any change to the user shows at once."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.checks import run_checks
from django.db import transaction
from django.test import Client

from django_redis_patterns.sessions import auth
from django_redis_patterns.sessions.auth import TOMBSTONE, CachedModelBackend, forget_user, user_key
from tests.sessions.conftest import point_default_at
from tests.topologies import all_topologies

pytestmark = pytest.mark.django_db

CACHED = "django_redis_patterns.sessions.auth.CachedModelBackend"
PLAIN = "django.contrib.auth.backends.ModelBackend"


@pytest.fixture(autouse=True)
def cached_backend(settings: Any, topology: Any) -> None:
    """Ours in front of Django's, on an emptied topology (standalone unless a test says otherwise)."""
    settings.AUTHENTICATION_BACKENDS = [CACHED, PLAIN]


@pytest.fixture
def alice(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice", password="old-password")


def _logged_in(user: Any, backend: str = CACHED) -> Client:
    """A client with a session made at an earlier login (``login()`` itself saves the user's
    ``last_login``, which holds the cached copy's key for TOMBSTONE_SECONDS: see the test below)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    from django_redis_patterns.sessions.backend import SessionStore

    session = SessionStore()
    session[SESSION_KEY], session[BACKEND_SESSION_KEY] = str(user.pk), backend
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    client = Client()
    client.cookies["sessionid"] = session.session_key
    return client


def _whoami(client: Client) -> dict[str, Any]:
    return client.get("/whoami/").json()  # type: ignore[no-any-return]


def _key(user: Any) -> str:
    return user_key(user.pk, CachedModelBackend)


@all_topologies
def test_a_logged_in_request_reads_the_user_from_redis_not_the_database(
    topology: Any, alice: Any, django_assert_num_queries: Any
) -> None:
    client = _logged_in(alice)
    key = client.cookies["sessionid"].value
    with django_assert_num_queries(1):  # the first request reads the row and caches it
        assert _whoami(client)["username"] == "alice"
    assert cache.get(_key(alice)) == alice
    with django_assert_num_queries(0):
        for _ in range(3):
            assert _whoami(client) == {"authenticated": True, "username": "alice", "session_key": key}


def test_login_saves_last_login_so_the_next_requests_read_the_database_until_the_tombstone_ends(
    alice: Any, django_assert_num_queries: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "TOMBSTONE_SECONDS", 1)
    client = Client()
    client.force_login(alice, backend=CACHED)  # update_last_login saves the user: a tombstone
    assert cache.get(_key(alice)) == TOMBSTONE
    with django_assert_num_queries(1):
        assert _whoami(client)["username"] == "alice"
    time.sleep(1.2)
    with django_assert_num_queries(1):
        assert _whoami(client)["username"] == "alice"  # cached now, with this login's last_login
    with django_assert_num_queries(0):
        assert _whoami(client)["username"] == "alice"
    assert cache.get(_key(alice)).last_login == type(alice).objects.get(pk=alice.pk).last_login


def test_sessions_of_the_plain_backend_keep_working_uncached(alice: Any, django_assert_num_queries: Any) -> None:
    """Switching backends logs nobody out while ModelBackend stays listed after ours."""
    client = _logged_in(alice, backend=PLAIN)
    for _ in range(2):
        with django_assert_num_queries(1):
            assert _whoami(client)["username"] == "alice"
    assert cache.get(_key(alice)) is None


@all_topologies
def test_a_saved_change_shows_on_the_next_request(topology: Any, alice: Any) -> None:
    client = _logged_in(alice)
    assert _whoami(client)["username"] == "alice"
    alice.username = "alice2"
    alice.save()
    assert _whoami(client)["username"] == "alice2"


def test_a_password_change_logs_the_other_sessions_out_at_once(alice: Any) -> None:
    laptop, phone = _logged_in(alice), _logged_in(alice)
    assert _whoami(laptop)["authenticated"] and _whoami(phone)["authenticated"]  # both cached now
    alice.set_password("new-password")
    alice.save()
    # The cached copy had the old password hash: served, it would keep both sessions valid.
    assert _whoami(phone)["authenticated"] is False
    assert _whoami(laptop)["authenticated"] is False


def test_a_deactivated_or_deleted_user_is_logged_out_at_once(alice: Any, django_user_model: Any) -> None:
    client = _logged_in(alice)
    assert _whoami(client)["authenticated"]
    alice.is_active = False
    alice.save()
    assert _whoami(client)["authenticated"] is False

    bob = django_user_model.objects.create_user("bob")
    client = _logged_in(bob)
    assert _whoami(client)["authenticated"]
    bob.delete()
    assert _whoami(client)["authenticated"] is False


def test_a_request_that_read_the_old_row_cannot_cache_it_after_the_change(
    alice: Any, django_user_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race of every cache-aside: read row, (user saved), store row. The store must lose."""
    original = ModelBackend.get_user

    def read_then_changed_elsewhere(self: Any, user_id: Any) -> Any:
        row = original(self, user_id)  # this request now holds the old row...
        other = django_user_model.objects.get(pk=user_id)
        other.username = "renamed"
        other.save()  # ...while another request saves the user
        return row

    monkeypatch.setattr(ModelBackend, "get_user", read_then_changed_elsewhere)
    assert CachedModelBackend().get_user(alice.pk).username == "alice"  # this request saw the old row
    monkeypatch.undo()
    assert cache.get(_key(alice)) == TOMBSTONE  # and could not store it
    assert CachedModelBackend().get_user(alice.pk).username == "renamed"


def test_the_key_is_held_again_when_the_transaction_commits(
    alice: Any, django_user_model: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """A transaction longer than the tombstone: a copy read before its commit is dropped at commit."""
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            alice.username = "renamed"
            alice.save()
            cache.delete(_key(alice))  # the tombstone ran out while the transaction was open
            stale = django_user_model(pk=alice.pk, username="alice", password=alice.password)
            assert cache.add(_key(alice), stale)  # and a request cached the old row
    assert cache.get(_key(alice)) == TOMBSTONE
    assert CachedModelBackend().get_user(alice.pk).username == "renamed"


def test_queryset_update_needs_forget_user(alice: Any, django_user_model: Any) -> None:
    backend = CachedModelBackend()
    assert backend.get_user(alice.pk).username == "alice"
    django_user_model.objects.filter(pk=alice.pk).update(username="bulk")  # no post_save
    assert backend.get_user(alice.pk).username == "alice"  # documented: stale until forgotten
    forget_user(alice.pk)
    assert backend.get_user(alice.pk).username == "bulk"


def test_without_a_cached_backend_saves_write_nothing_to_redis(alice: Any, settings: Any) -> None:
    settings.AUTHENTICATION_BACKENDS = [PLAIN]
    alice.username = "x"
    alice.save()
    assert cache.get(_key(alice)) is None


def test_redis_down_reads_the_database_without_hanging(
    alice: Any, settings: Any, redis_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    group = redis_factory("standalone")
    point_default_at(settings, group.url, SOCKET_TIMEOUT=0.3, SOCKET_CONNECT_TIMEOUT=0.3, RETRIES=0)
    backend = CachedModelBackend()
    assert backend.get_user(alice.pk) == alice
    group.primary.stop()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="django_redis_patterns.sessions"):
        for _ in range(3):
            assert backend.get_user(alice.pk) == alice  # from the database
        alice.username = "renamed"
        alice.save()  # the user is saved; the failed invalidation is logged
    assert time.monotonic() - started < 10  # bounded by the timeouts, never a hang
    warnings = [r for r in caplog.records if "cached users" in r.getMessage()]
    assert len(warnings) == 1  # once per incident
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and "could not invalidate" in r.getMessage()]
    assert errors and "USER_CACHE_TIMEOUT" in errors[0].getMessage()
    assert backend.get_user(alice.pk).username == "renamed"


@pytest.mark.django_db(transaction=True)  # the async ORM reads on another thread's connection
async def test_async_requests_use_the_same_cache(alice: Any) -> None:
    backend = CachedModelBackend()
    assert (await backend.aget_user(alice.pk)) == alice
    assert (await cache.aget(_key(alice))) == alice  # cached by the async path
    cache.set(_key(alice), TOMBSTONE, 10)
    user = await backend.aget_user(alice.pk)
    assert user == alice and (await cache.aget(_key(alice))) == TOMBSTONE  # read, not stored over it


def test_the_key_changes_with_the_backend_and_the_user_model(settings: Any) -> None:
    class Other(CachedModelBackend):
        pass

    assert user_key(1, CachedModelBackend) != user_key(1, Other)
    assert user_key(1, CachedModelBackend) == user_key("1", CachedModelBackend)  # session ids are strings


def test_checks_warn_on_a_per_process_cache_and_reject_a_bad_timeout(settings: Any, sessions_setting: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert "redis_patterns.W011" in {m.id for m in run_checks()}
    settings.SESSION_CACHE_ALIAS = "missing"
    assert "redis_patterns.E013" in {m.id for m in run_checks()}
    sessions_setting(USER_CACHE_TIMEOUT=0)
    errors = [m for m in run_checks() if m.id == "redis_patterns.E010"]
    assert errors and "USER_CACHE_TIMEOUT" in errors[0].msg
    settings.AUTHENTICATION_BACKENDS = [PLAIN]
    settings.SESSION_CACHE_ALIAS = "default"
    sessions_setting(USER_CACHE_TIMEOUT=300)
    assert not {m.id for m in run_checks()} & {"redis_patterns.W011", "redis_patterns.E013"}
    assert auth._cached_backends() == []
