"""MIGRATE_FROM: sessions written by Django's ``cache`` / ``cached_db`` engines carried over, once each."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.sessions.backends import cache as django_cache
from django.contrib.sessions.backends import cached_db as django_cached_db
from django.contrib.sessions.backends import db as django_db
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.test import Client
from django.utils import timezone

from django_redis_patterns import get_redis
from django_redis_patterns.exceptions import ImproperlyConfigured
from django_redis_patterns.sessions import SessionUnavailable, user_sessions
from django_redis_patterns.sessions import migration as migration_module
from django_redis_patterns.sessions.backend import SessionStore
from django_redis_patterns.sessions.checks import sessions_check
from tests.sessions.conftest import ENGINE, command_counts, reset_command_counts
from tests.topologies import standalone_and_cluster

CACHE_ENGINE = "django.contrib.sessions.backends.cache"
CACHED_DB_ENGINE = "django.contrib.sessions.backends.cached_db"
OLD = django_cache.KEY_PREFIX  # "django.contrib.sessions.cache"
DAY_MS = 24 * 3600 * 1000


@pytest.fixture
def old_aliases(topology: Any, settings: Any) -> Any:
    """Besides CACHES["default"] (our backend): Django's RedisCache and a LocMemCache."""
    settings.CACHES = {
        **settings.CACHES,
        "django_redis": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": topology.url,
            "KEY_PREFIX": "old",
        },
        "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "migrate-tests"},
    }
    yield topology
    caches["locmem"].clear()


def _ours(key: str) -> bytes | None:
    return get_redis("default").get(f"session:s:{key}")  # type: ignore[no-any-return]


def _our_pttl(key: str) -> int:
    return int(get_redis("default").pttl(f"session:s:{key}"))


def _old_session(settings: Any, alias: str, engine: Any = django_cache, **data: Any) -> Any:
    """A session saved by Django's own engine on ``alias``."""
    settings.SESSION_CACHE_ALIAS = alias
    old = engine.SessionStore()
    old.update(data)
    old.save()
    settings.SESSION_CACHE_ALIAS = "default"
    return old


def _logged_in_with(settings: Any, django_user_model: Any, engine: str) -> tuple[Client, str]:
    """alice logs in while Django's ``engine`` is the session engine: her client and session key."""
    django_user_model.objects.create_user("alice", password="pw")
    settings.SESSION_ENGINE = engine
    client = Client()
    client.post("/login/", {"username": "alice"})
    return client, client.cookies["sessionid"].value


def _switch(settings: Any, sessions_setting: Any, **values: Any) -> None:
    """Deploy our engine on "default", the old one's sessions read as ``values`` say."""
    settings.SESSION_ENGINE = ENGINE
    settings.SESSION_CACHE_ALIAS = "default"
    sessions_setting(**values)


def _redeployed(client: Client, **headers: Any) -> Client:
    """The same browser after the deploy: a client's middleware (and so its engine) is fixed at its first request."""
    new = Client(**headers)
    new.cookies = client.cookies
    return new


def _whoami(client: Client) -> dict[str, Any]:
    return client.get("/whoami/").json()  # type: ignore[no-any-return]


# -- "cache": through a real login ---------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("old_alias", ["default", "django_redis"])
def test_user_logged_in_by_djangos_cache_engine_stays_logged_in(
    old_aliases: Any, settings: Any, sessions_setting: Any, django_user_model: Any, old_alias: str
) -> None:
    alice = django_user_model.objects.create_user("alice", password="pw")
    settings.SESSION_ENGINE, settings.SESSION_CACHE_ALIAS = CACHE_ENGINE, old_alias
    client = Client(HTTP_USER_AGENT="laptop")
    assert client.post("/login/", {"username": "alice"}).status_code == 200
    assert client.get("/bump/").json() == {"n": 1}
    key = client.cookies["sessionid"].value
    old_data = caches[old_alias].get(OLD + key)
    assert old_data["_auth_user_id"] == str(alice.pk) and old_data["n"] == 1  # really Django's engine

    _switch(settings, sessions_setting, MIGRATE_FROM="cache", MIGRATE_FROM_ALIAS=old_alias)
    client = _redeployed(client, HTTP_USER_AGENT="laptop")
    me = _whoami(client)
    assert me == {"authenticated": True, "username": "alice", "session_key": key}
    assert caches[old_alias].get(OLD + key) is None  # the old copy is gone
    assert _ours(key) is not None
    assert dict(SessionStore(key).items()) == old_data  # same data, in our format
    [entry] = user_sessions(alice)  # indexed: "log out everywhere" reaches migrated sessions
    assert entry.session_key == key and entry.user_agent == "laptop"

    assert client.get("/bump/").json() == {"n": 2}  # and it keeps working as ours
    client.get("/logout/")
    assert _whoami(client)["authenticated"] is False
    assert _ours(key) is None and caches[old_alias].get(OLD + key) is None  # nothing to resurrect


@pytest.mark.django_db
def test_without_the_setting_the_user_is_logged_out_and_the_old_copy_untouched(
    old_aliases: Any, settings: Any, sessions_setting: Any, django_user_model: Any
) -> None:
    client, key = _logged_in_with(settings, django_user_model, CACHE_ENGINE)
    _switch(settings, sessions_setting)
    assert _whoami(_redeployed(client))["authenticated"] is False
    assert caches["default"].get(OLD + key) is not None
    assert _ours(key) is None


# -- "cache": the store ---------------------------------------------------------------------


@standalone_and_cluster
def test_migrates_once_then_reads_ours_with_one_get(old_aliases: Any, settings: Any, sessions_setting: Any) -> None:
    old = _old_session(settings, "default", cart=[1, 2], _auth_user_id="7")
    key = old.session_key
    _switch(settings, sessions_setting, MIGRATE_FROM="cache")

    first = SessionStore(key)
    assert first["cart"] == [1, 2] and first.session_key == key
    assert caches["default"].get(OLD + key) is None
    # Put an old copy back: a second load must read ours and never look there again.
    caches["default"].set(OLD + key, {"cart": ["stale"]})
    reset_command_counts(old_aliases.group)
    second = SessionStore(key)
    assert second["cart"] == [1, 2]
    counts = command_counts(old_aliases.group)
    assert counts.get("get") == 1 and "pttl" not in counts and "del" not in counts and "set" not in counts
    assert caches["default"].get(OLD + key) == {"cart": ["stale"]}


def test_feature_off_costs_nothing_on_a_miss(old_aliases: Any, settings: Any, sessions_setting: Any) -> None:
    key = _old_session(settings, "default", a=1).session_key
    unknown = "x" * 32
    _switch(settings, sessions_setting)
    reset_command_counts(old_aliases.group)
    assert SessionStore(key).load() == {}
    assert SessionStore(unknown).load() == {}
    assert command_counts(old_aliases.group).get("get") == 2  # ours only, one each
    assert caches["default"].get(OLD + key) == {"a": 1}

    sessions_setting(MIGRATE_FROM="cache")  # on: a miss also looks at the old store
    reset_command_counts(old_aliases.group)
    assert SessionStore(unknown).load() == {}
    assert command_counts(old_aliases.group).get("get") == 2  # ours + the old engine's key


@pytest.mark.parametrize(
    ("old_alias", "expected_ms"),
    [
        ("default", 100_000),  # our backend: the entry's PTTL
        ("django_redis", 100_000),  # Django's RedisCache: the entry's PTTL
        ("locmem", 1_209_600_000),  # not Redis: the session's own expiry age (SESSION_COOKIE_AGE)
    ],
)
def test_remaining_lifetime_is_kept(
    old_aliases: Any, settings: Any, sessions_setting: Any, old_alias: str, expected_ms: int
) -> None:
    old = _old_session(settings, old_alias, a=1)
    if old_alias != "locmem":
        get_redis(old_alias).pexpire(caches[old_alias].make_key(OLD + old.session_key), 100_000)
    _switch(settings, sessions_setting, MIGRATE_FROM="cache", MIGRATE_FROM_ALIAS=old_alias)
    assert SessionStore(old.session_key)["a"] == 1
    assert expected_ms - 10_000 < _our_pttl(old.session_key) <= expected_ms
    assert caches[old_alias].get(OLD + old.session_key) is None


def test_custom_expiry_is_kept(old_aliases: Any, settings: Any, sessions_setting: Any) -> None:
    settings.SESSION_CACHE_ALIAS = "locmem"
    old = django_cache.SessionStore()
    old["a"] = 1
    old.set_expiry(timedelta(hours=2))
    old.save()
    _switch(settings, sessions_setting, MIGRATE_FROM="cache", MIGRATE_FROM_ALIAS="locmem")
    s = SessionStore(old.session_key)
    assert s["a"] == 1 and s.get_expiry_age() <= 7200
    assert 7200_000 - 10_000 < _our_pttl(old.session_key) <= 7200_000


def _after_lookup(monkeypatch: pytest.MonkeyPatch, then: Any) -> None:
    """Run ``then(session_key)`` right after the migration's lookup: a race with another request."""
    real_lookup = migration_module.lookup

    def lookup_then(rt: Any, session_key: str) -> Any:
        found = real_lookup(rt, session_key)
        then(session_key)
        return found

    monkeypatch.setattr(migration_module, "lookup", lookup_then)


def test_deleted_in_the_old_store_meanwhile_is_not_resurrected(
    old_aliases: Any, settings: Any, sessions_setting: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A logout by the old engine (a server not switched yet) between our lookup and our claim."""
    key = _old_session(settings, "default", _auth_user_id="7").session_key
    _after_lookup(monkeypatch, lambda session_key: caches["default"].delete(OLD + session_key))  # Django's flush()
    _switch(settings, sessions_setting, MIGRATE_FROM="cache")
    s = SessionStore(key)
    assert s.load() == {}
    assert _ours(key) is None
    assert get_redis("default").keys("session:u:*") == []  # no index entry left behind either


def test_a_concurrent_migration_that_won_is_read(
    old_aliases: Any, settings: Any, sessions_setting: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = _old_session(settings, "default", v="old").session_key

    def another_request_migrates_it(session_key: str) -> None:
        winner = SessionStore(session_key)
        winner._session_cache = {"v": "winner's"}
        winner.save(must_create=True)

    _after_lookup(monkeypatch, another_request_migrates_it)
    _switch(settings, sessions_setting, MIGRATE_FROM="cache")
    assert SessionStore(key).load() == {"v": "winner's"}


def test_data_our_serializer_cannot_write_is_left_behind_with_a_warning(
    old_aliases: Any, settings: Any, sessions_setting: Any, caplog: pytest.LogCaptureFixture
) -> None:
    key = _old_session(settings, "default", when=datetime(2020, 1, 1)).session_key  # pickled by the cache
    _switch(settings, sessions_setting, MIGRATE_FROM="cache")
    with caplog.at_level(logging.WARNING, logger="django_redis_patterns.sessions"):
        assert SessionStore(key).load() == {}
    assert "SESSION_SERIALIZER" in caplog.text
    assert _ours(key) is None


@pytest.mark.parametrize("on_error", ["raise", "anonymous"])
def test_old_store_down_follows_on_error(old_aliases: Any, settings: Any, sessions_setting: Any, on_error: str) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "dead": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"},
    }
    _switch(settings, sessions_setting, MIGRATE_FROM="cache", MIGRATE_FROM_ALIAS="dead", ON_ERROR=on_error)
    s = SessionStore("k" * 32)
    if on_error == "raise":
        with pytest.raises(SessionUnavailable, match="MIGRATE_FROM"):
            s.load()
    else:
        assert s.load() == {}
        assert s.session_key == "k" * 32  # the cookie is kept: the user is back once it answers


# -- "cached_db" ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_cached_db_session_only_in_the_table_is_migrated(
    old_aliases: Any, settings: Any, sessions_setting: Any, django_user_model: Any
) -> None:
    client, key = _logged_in_with(settings, django_user_model, CACHED_DB_ENGINE)
    assert caches["default"].delete(django_cached_db.KEY_PREFIX + key)  # evicted: only the row is left
    row = Session.objects.get(session_key=key)

    _switch(settings, sessions_setting, MIGRATE_FROM="cached_db")
    assert _whoami(_redeployed(client)) == {"authenticated": True, "username": "alice", "session_key": key}
    assert not Session.objects.filter(session_key=key).exists()
    assert dict(SessionStore(key).items()) == django_db.SessionStore().decode(row.session_data)
    remaining_ms = (row.expire_date - datetime.now(row.expire_date.tzinfo)).total_seconds() * 1000
    assert remaining_ms - 10_000 < _our_pttl(key) <= remaining_ms + 1000  # the row's expire_date


@pytest.mark.django_db
def test_cached_db_session_in_the_cache_is_migrated_and_both_copies_deleted(
    old_aliases: Any, settings: Any, sessions_setting: Any
) -> None:
    old = _old_session(settings, "django_redis", django_cached_db, a=1)
    key = old.session_key
    assert caches["django_redis"].get(django_cached_db.KEY_PREFIX + key) == {"a": 1}
    assert Session.objects.filter(session_key=key).exists()
    _switch(settings, sessions_setting, MIGRATE_FROM="cached_db", MIGRATE_FROM_ALIAS="django_redis")
    assert SessionStore(key)["a"] == 1
    assert caches["django_redis"].get(django_cached_db.KEY_PREFIX + key) is None
    assert not Session.objects.filter(session_key=key).exists()
    assert caches["django_redis"].get(OLD + key) is None


@pytest.mark.django_db
def test_cached_db_expired_row_is_not_migrated(old_aliases: Any, settings: Any, sessions_setting: Any) -> None:
    settings.SESSION_CACHE_ALIAS = "locmem"
    old = django_db.SessionStore()
    old["a"] = 1
    old.save()
    Session.objects.filter(session_key=old.session_key).update(expire_date=timezone.now() - timedelta(seconds=1))
    _switch(settings, sessions_setting, MIGRATE_FROM="cached_db", MIGRATE_FROM_ALIAS="locmem")
    assert SessionStore(old.session_key).load() == {}
    assert _ours(old.session_key) is None


# -- async ----------------------------------------------------------------------------------


@pytest.mark.parametrize("old_alias", ["default", "django_redis"])
async def test_async_load_migrates(old_aliases: Any, settings: Any, sessions_setting: Any, old_alias: str) -> None:
    old = _old_session(settings, old_alias, cart=[3], _auth_user_id="7")
    key = old.session_key
    get_redis(old_alias).pexpire(caches[old_alias].make_key(OLD + key), 100_000)
    _switch(settings, sessions_setting, MIGRATE_FROM="cache", MIGRATE_FROM_ALIAS=old_alias)
    s = SessionStore(key)
    assert await s.aget("cart") == [3]
    assert 90_000 < _our_pttl(key) <= 100_000  # the old entry's remaining lifetime
    assert await caches[old_alias].aget(OLD + key) is None
    assert _ours(key) is not None
    caches[old_alias].set(OLD + key, {"cart": ["stale"]})
    assert await SessionStore(key).aget("cart") == [3]  # the second load reads ours
    assert [e.session_key for e in user_sessions("7")] == [key]


@pytest.mark.django_db(transaction=True)
async def test_async_load_migrates_a_cached_db_row(old_aliases: Any, settings: Any, sessions_setting: Any) -> None:
    from asgiref.sync import sync_to_async

    settings.SESSION_CACHE_ALIAS = "locmem"
    old = django_db.SessionStore()
    old["a"] = 1
    await old.asave()
    _switch(settings, sessions_setting, MIGRATE_FROM="cached_db", MIGRATE_FROM_ALIAS="locmem")
    assert await SessionStore(old.session_key).aget("a") == 1
    assert not await sync_to_async(Session.objects.filter(session_key=old.session_key).exists)()
    assert SessionStore(old.session_key)["a"] == 1  # ours now


# -- checks -----------------------------------------------------------------------------------


def _check(settings: Any, **sessions: Any) -> list[tuple[str, str]]:
    settings.REDIS_PATTERNS = {"SESSIONS": sessions}
    return [(m.id, m.msg) for m in sessions_check()]  # type: ignore[misc]


def test_checks(settings: Any) -> None:
    settings.CACHES = {**settings.CACHES, "old": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert _check(settings, MIGRATE_FROM="cache") == []
    assert _check(settings, MIGRATE_FROM="cached_db", MIGRATE_FROM_ALIAS="old") == []
    assert _check(settings, MIGRATE_FROM_ALIAS="nowhere") == []  # off: the alias is not used

    [(id_, msg)] = _check(settings, MIGRATE_FROM="db")
    assert id_ == "redis_patterns.E012" and "MIGRATE_FROM" in msg and "'db'" in msg
    [(id_, msg)] = _check(settings, MIGRATE_FROM="cache", MIGRATE_FROM_ALIAS="nowhere")
    assert id_ == "redis_patterns.E012" and "MIGRATE_FROM_ALIAS" in msg and "'nowhere'" in msg
    [(id_, msg)] = _check(settings, MIGRATE_FROM="cache", MIGRATE_FROM_ALIAS=5)
    assert id_ == "redis_patterns.E012" and "MIGRATE_FROM_ALIAS" in msg
    settings.SESSION_CACHE_ALIAS = "gone"
    [(id_, msg)] = _check(settings, MIGRATE_FROM="cache")
    assert id_ == "redis_patterns.E012" and "SESSION_CACHE_ALIAS 'gone'" in msg


def test_bad_value_also_fails_at_use(settings: Any, sessions_setting: Any) -> None:
    sessions_setting(MIGRATE_FROM="file")
    with pytest.raises(ImproperlyConfigured, match="MIGRATE_FROM"):
        SessionStore("k" * 32).load()
