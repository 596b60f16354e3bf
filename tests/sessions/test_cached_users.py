"""CachedModelBackend: the logged-in user comes from Redis, and any change to the user shows at once."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from django.core.cache import cache
from django.core.checks import run_checks
from django.db import transaction
from django.test import Client

from django_redis_patterns import get_redis
from django_redis_patterns.sessions import auth, userrecords
from django_redis_patterns.sessions.auth import CachedModelBackend, forget_user
from tests.sessions.conftest import cached_copy, point_default_at
from tests.testapp.models import Profile, StaffUser
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
    ``last_login``, which makes any copy out of date: see the test below)."""
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


def _raw(key: str) -> bytes | None:
    """What Redis holds under a user key (the cached user is never read through the cache API)."""
    return get_redis("default").get(cache.make_key(key))  # type: ignore[no-any-return]


_copy = cached_copy


def _stale_copy(user: Any, **fields: Any) -> None:
    """Store what a request that read ``user`` just now with other ``fields`` would store."""
    keys = auth._Keys(user.pk, CachedModelBackend)
    row = type(user).objects.get(pk=user.pk)
    for name, value in fields.items():
        setattr(row, name, value)
    version = _raw(keys.version)
    assert version is not None
    record = userrecords.pack(keys.copy, version.decode(), row, [], 300)
    get_redis("default").set(cache.make_key(keys.copy), record)


@all_topologies
def test_a_logged_in_request_reads_the_user_from_redis_not_the_database(
    topology: Any, alice: Any, django_assert_num_queries: Any
) -> None:
    client = _logged_in(alice)
    key = client.cookies["sessionid"].value
    with django_assert_num_queries(1):  # the first request reads the row and caches it
        assert _whoami(client)["username"] == "alice"
    assert _copy(alice) == alice
    with django_assert_num_queries(0):
        for _ in range(3):
            assert _whoami(client) == {"authenticated": True, "username": "alice", "session_key": key}


def test_after_login_one_request_reads_the_database_then_none(alice: Any, django_assert_num_queries: Any) -> None:
    client = Client()
    assert _whoami(_logged_in(alice))["username"] == "alice"  # a copy from an earlier session
    client.force_login(alice, backend=CACHED)  # saves last_login: that copy is out of date
    with django_assert_num_queries(1):
        assert _whoami(client)["username"] == "alice"
    with django_assert_num_queries(0):
        assert _whoami(client)["username"] == "alice"
    assert _copy(alice).last_login == type(alice).objects.get(pk=alice.pk).last_login


def test_sessions_of_the_plain_backend_keep_working_uncached(alice: Any, django_assert_num_queries: Any) -> None:
    """Switching backends logs nobody out while ModelBackend stays listed after ours."""
    client = _logged_in(alice, backend=PLAIN)
    for _ in range(2):
        with django_assert_num_queries(1):
            assert _whoami(client)["username"] == "alice"
    assert _copy(alice) is None


@all_topologies
def test_a_saved_change_shows_on_the_next_request(topology: Any, alice: Any) -> None:
    client = _logged_in(alice)
    assert _whoami(client)["username"] == "alice"
    alice.username = "alice2"
    alice.save()
    assert _whoami(client)["username"] == "alice2"


def test_a_save_through_a_proxy_model_shows_at_once(alice: Any) -> None:
    backend = CachedModelBackend()
    assert backend.get_user(alice.pk).username == "alice"
    staff = StaffUser.objects.get(pk=alice.pk)
    staff.username = "via-proxy"
    staff.save()  # post_save's sender is StaffUser, not User
    assert backend.get_user(alice.pk).username == "via-proxy"


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
    alice: Any, django_user_model: Any, monkeypatch: pytest.MonkeyPatch, django_assert_num_queries: Any
) -> None:
    """The race of every cache-aside: read row, (user saved), store row. The stored copy must lose."""
    original = auth.RelatedModelBackend.get_user

    def read_then_changed_elsewhere(self: Any, user_id: Any) -> Any:
        row = original(self, user_id)  # this request now holds the old row...
        other = django_user_model.objects.get(pk=user_id)
        other.username = "renamed"
        other.save()  # ...while another request saves the user
        return row

    monkeypatch.setattr(auth.RelatedModelBackend, "get_user", read_then_changed_elsewhere)
    assert CachedModelBackend().get_user(alice.pk).username == "alice"  # this request saw the old row
    monkeypatch.undo()
    assert _copy(alice).username == "alice"  # and stored it, under the version it read before
    with django_assert_num_queries(1):
        assert CachedModelBackend().get_user(alice.pk).username == "renamed"  # never served
    with django_assert_num_queries(0):
        assert CachedModelBackend().get_user(alice.pk).username == "renamed"


def test_a_copy_read_before_the_commit_is_out_of_date_after_it(
    alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """Until the commit other requests read the old row, even under the new version."""
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            alice.username = "renamed"
            alice.save()
            _stale_copy(alice, username="alice")  # a request read the old row after post_save
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
    assert _raw(auth._Keys(alice.pk, CachedModelBackend).version) is None


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
    assert _copy(alice) == alice  # cached by the async path
    assert (await backend.aget_user(alice.pk)) == alice
    await type(alice).objects.filter(pk=alice.pk).aupdate(username="renamed")
    forget_user(alice)
    assert (await backend.aget_user(alice.pk)).username == "renamed"


def test_the_key_changes_with_the_backend_the_related_rows_and_the_user_model(sessions_setting: Any) -> None:
    class Other(CachedModelBackend):
        pass

    plain = auth._Keys(1, CachedModelBackend).copy
    assert plain != auth._Keys(1, Other).copy
    assert plain == auth._Keys("1", CachedModelBackend).copy  # session ids are strings
    sessions_setting(USER_SELECT_RELATED=["profile"])
    assert plain != auth._Keys(1, CachedModelBackend).copy


def test_profile_rows_are_cached_with_the_user_and_their_changes_show_at_once(
    alice: Any, sessions_setting: Any, django_assert_num_queries: Any
) -> None:
    sessions_setting(USER_SELECT_RELATED=["profile"])
    Profile.objects.create(user=alice, nickname="ace")
    backend = CachedModelBackend()
    with django_assert_num_queries(1):  # the user and the profile: one query with a join
        assert backend.get_user(alice.pk).profile.nickname == "ace"
    with django_assert_num_queries(0):
        assert backend.get_user(alice.pk).profile.nickname == "ace"
    profile = Profile.objects.get(user=alice)
    profile.nickname = "king"
    profile.save()
    assert backend.get_user(alice.pk).profile.nickname == "king"
    profile.delete()
    with pytest.raises(Profile.DoesNotExist), django_assert_num_queries(1):
        backend.get_user(alice.pk).profile  # noqa: B018  (no profile, known without another query)


def test_user_select_related_must_name_a_one_to_one_profile(settings: Any, sessions_setting: Any) -> None:
    sessions_setting(USER_SELECT_RELATED=["groups"])
    errors = [m for m in run_checks() if m.id == "redis_patterns.E010"]
    assert errors and "'groups' must be a one-to-one relation" in errors[0].msg
    sessions_setting(USER_SELECT_RELATED=["nope"])
    errors = [m for m in run_checks() if m.id == "redis_patterns.E010"]
    assert errors and "has no relation 'nope'" in errors[0].msg


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


def _versions(user: Any) -> list[str]:
    return [auth._Keys(user.pk, backend).version for backend in auth._cached_backends()]


@all_topologies
def test_a_lost_version_key_never_revalidates_a_copy_from_before_a_password_change(topology: Any, alice: Any) -> None:
    """Eviction (allkeys-*/volatile-*) or a failover to a lagging replica can drop the version key:
    the copy cached before the password change must not become current again."""
    phone = _logged_in(alice)
    assert [_raw(k) for k in _versions(alice)] == [None]  # the copy is cached before any version key exists
    assert _whoami(phone)["authenticated"] is True
    old_copy = _copy(alice)
    assert old_copy is not None and old_copy.password == alice.password
    alice.set_password("new-password")
    alice.save()
    cache.delete_many(_versions(alice))  # the version key is lost
    assert _raw(auth._Keys(alice.pk, CachedModelBackend).copy) is not None  # the old copy is not
    assert _whoami(phone)["authenticated"] is False  # the session hash is checked against the fresh row
    backend = CachedModelBackend()
    assert backend.get_user(alice.pk).password == type(alice).objects.get(pk=alice.pk).password
    cache.delete_many(_versions(alice))
    assert backend.get_user(alice.pk).check_password("new-password")


@pytest.mark.django_db(transaction=True)  # the async ORM reads on another thread's connection
async def test_a_lost_version_key_never_revalidates_a_copy_async(alice: Any) -> None:
    from asgiref.sync import sync_to_async

    backend = CachedModelBackend()
    assert (await backend.aget_user(alice.pk)).check_password("old-password")  # cached, version written
    await sync_to_async(alice.set_password)("new-password")
    await alice.asave()
    await cache.adelete_many(_versions(alice))
    assert (await backend.aget_user(alice.pk)).check_password("new-password")
    assert (await backend.aget_user(alice.pk)).check_password("new-password")  # and cached under a new version
    assert [_raw(k) is not None for k in _versions(alice)] == [True]
