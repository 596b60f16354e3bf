"""Write access to Redis is not code execution, nor a login.

Someone who can write any key (a leaked Redis password, an unprotected replica, another app on
the same server) plants a pickle that runs code when loaded, and forged user records, on every
key this package reads back. Nothing runs, and nobody is logged in as anyone.
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core.cache import cache
from django.test import Client

from django_redis_patterns import get_redis
from django_redis_patterns.client import connections
from django_redis_patterns.locks import lock
from django_redis_patterns.locks.inspection import info
from django_redis_patterns.ratelimit import Limiter
from django_redis_patterns.sessions import auth, userrecords
from django_redis_patterns.sessions.auth import CachedModelBackend
from tests.gadgets import code_executing_pickle
from tests.topologies import standalone_and_cluster

pytestmark = pytest.mark.django_db

CACHED = "django_redis_patterns.sessions.auth.CachedModelBackend"
PLAIN = "django.contrib.auth.backends.ModelBackend"


@pytest.fixture(autouse=True)
def cached_backend(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.AUTHENTICATION_BACKENDS = [CACHED, PLAIN]
    monkeypatch.setattr(auth, "_reported", set())  # "logged once per process": this test's process


def _signup(username: str) -> Client:
    """A visitor signs up and is logged in by the site (Django's login(), our backend)."""
    client = Client()
    response = client.post("/signup/", {"username": username, "password": "pw-" + username, "backend": CACHED})
    assert response.status_code == 200
    return client


def _whoami(client: Client) -> dict[str, Any]:
    return client.get("/whoami/").json()  # type: ignore[no-any-return]


def _key(name: str) -> str:
    return str(cache.make_key(name))


def _primaries() -> list[Any]:
    """A client per primary (each key is written on the node that owns it)."""
    client = get_redis()
    if connections.is_cluster(client):
        return [client.get_redis_connection(node) for node in client.get_primaries()]
    return [client]


def _plant_everywhere(gadget: bytes) -> list[str]:
    """Overwrite every value of every key on every primary with ``gadget``; the keys touched."""
    touched = []
    for node in _primaries():
        for raw_key in node.scan_iter(count=500):
            kind = node.type(raw_key)
            kind = kind.decode() if isinstance(kind, bytes) else kind
            if kind == "string":
                node.set(raw_key, gadget)
            elif kind == "hash":
                node.hset(raw_key, mapping=dict.fromkeys(node.hkeys(raw_key), gadget))
            elif kind == "zset":
                node.zadd(raw_key, {gadget: 0})
            elif kind == "set":
                node.sadd(raw_key, gadget)
            elif kind == "list":
                node.rpush(raw_key, gadget)
            else:
                raise AssertionError(f"a {kind} key {raw_key!r}: plant into it too")
            touched.append(raw_key.decode(errors="replace"))
    return touched


@standalone_and_cluster
def test_a_pickle_planted_on_every_key_runs_nothing_and_logs_nobody_in(
    topology: Any, settings: Any, tmp_path: Path, django_user_model: Any
) -> None:
    # The cache alias signs its values (the opt-in serializer): every key in Redis is then covered.
    settings.CACHES = {**settings.CACHES, "default": topology.cache_config(SERIALIZER="signed")}
    alice, bob = _signup("alice"), _signup("bob")
    assert _whoami(alice)["username"] == "alice" and _whoami(bob)["username"] == "bob"  # users cached now
    held = lock("nightly", ttl=60).acquire(blocking=False)  # a held lock: its value and fencing counter
    assert held
    limiter = Limiter("gcra")
    assert limiter.hit("login:alice", "5/m").allowed
    assert Limiter("sliding_window").hit("login:bob", "5/m").allowed
    assert Limiter("sliding_log").hit("api:bob", "5/m").allowed  # a sorted set of hit times
    cache.set("page", {"html": "<p>hi</p>"})
    assert cache.get_or_set("hot", lambda: "computed", stampede="lock") == "computed"

    marker = tmp_path / "the-planted-pickle-ran"
    touched = _plant_everywhere(code_executing_pickle(marker))
    user_keys = [k for k in touched if ":drp:user:" in k]
    assert len(user_keys) == 4  # two cached users and their versions
    assert any("session" in k for k in touched) and any("lock" in k for k in touched)

    # Every reader of those keys, again:
    assert _whoami(alice)["authenticated"] is False  # its session value is the pickle now: not a session
    assert _whoami(bob)["authenticated"] is False
    ids = django_user_model.objects.values_list("pk", flat=True)
    for pk in ids:
        assert CachedModelBackend().get_user(pk).pk == pk  # the database answers
    carol = _signup("carol")  # the site keeps working: a new login, its user cached and read back
    assert _whoami(carol)["username"] == "carol" and _whoami(carol)["username"] == "carol"
    assert info("nightly").owner is None  # a lock value we cannot parse: no owner shown
    assert not lock("nightly", ttl=5).acquire(blocking=False)  # still held (by whatever is there)
    with pytest.raises(redis.exceptions.ResponseError):  # a non-number in its state: Lua's error, never code
        limiter.hit("login:alice", "5/m")
    assert cache.get("page", "miss") == "miss"
    assert cache.get_or_set("hot", lambda: "recomputed", stampede="lock") == "recomputed"
    assert not marker.exists()  # nothing ran


@standalone_and_cluster
def test_forged_user_records_log_nobody_in_as_anyone_else(
    topology: Any, settings: Any, django_user_model: Any, caplog: pytest.LogCaptureFixture
) -> None:
    alice = _signup("alice")
    _signup("mallory")
    assert _whoami(alice)["username"] == "alice"
    admin = django_user_model.objects.create_superuser("admin", password="x")
    mallory = django_user_model.objects.get(username="mallory")
    me = django_user_model.objects.get(username="alice")
    keys = auth._Keys(me.pk, CachedModelBackend)
    raw = get_redis()
    version = raw.get(_key(keys.version)).decode()

    def as_admin(pk: Any) -> Any:
        """The admin row, claiming to be user ``pk`` (what a forger wants request.user to be)."""
        row = django_user_model.objects.get(pk=admin.pk)
        row.pk = pk
        return row

    wrong_key = settings.SECRET_KEY + "-not-ours"
    settings.SECRET_KEY = wrong_key
    signed_elsewhere = userrecords.pack(keys.copy, version, as_admin(me.pk), [], 300)
    settings.SECRET_KEY = "tests-only-not-secret"
    mallory_keys = auth._Keys(mallory.pk, CachedModelBackend)
    mallorys_own = userrecords.pack(mallory_keys.copy, version, mallory, [], 300)  # signed here, for her key
    genuine = userrecords.pack(keys.copy, version, as_admin(me.pk), [], 300)
    forgeries = {
        "the old format (a pickled (version, user))": pickle.dumps((version, as_admin(me.pk))),
        "signed with another SECRET_KEY": signed_elsewhere,
        "mallory's genuine record, moved to alice's key": mallorys_own,
        "unsigned": userrecords.MAGIC + userrecords.FORMAT + b"\0" * 32 + genuine[37:],
        "an unknown format version": userrecords.MAGIC + b"9" + genuine[5:],
        "a valid MAC over other bytes": genuine + b" ",  # still valid JSON
    }
    with caplog.at_level(logging.WARNING, logger="django_redis_patterns.sessions"):
        for what, forged in forgeries.items():
            raw.set(_key(keys.copy), forged)
            raw.set(_key(keys.version), version)  # the version the forgery claims: only the MAC protects
            seen = _whoami(alice)
            assert seen["username"] == "alice", (what, seen)  # read from the database, not the forgery
            user = CachedModelBackend().get_user(me.pk)
            assert (user.username, user.is_superuser) == ("alice", False), what
            assert _whoami(Client())["authenticated"] is False  # no session: nobody
    reasons = [r.getMessage() for r in caplog.records if "ignored the value" in r.getMessage()]
    assert len(reasons) == len(set(reasons)) == 3  # once per reason: unsigned, bad signature, unknown version
    # The control: the same record signed here for alice's key is accepted, so the MAC is what refused.
    raw.set(_key(keys.copy), genuine)
    raw.set(_key(keys.version), version)
    assert CachedModelBackend().get_user(me.pk).username == "admin"


@standalone_and_cluster
def test_a_key_rotation_through_secret_key_fallbacks_keeps_users_logged_in_and_cached(
    topology: Any, settings: Any, django_assert_num_queries: Any
) -> None:
    alice, bob = _signup("alice"), _signup("bob")
    assert _whoami(alice)["username"] == "alice"  # cached, signed with the old key
    old = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "the-new-key-" + "n" * 40, [old]
    with django_assert_num_queries(0):  # the session and the cached user, both signed with the old key
        assert _whoami(alice)["username"] == "alice"  # (Django moves the session to the new key)
    settings.SECRET_KEY_FALLBACKS = []  # the old key retired
    with django_assert_num_queries(1):  # the copy signed with the old key is refused: the database answers
        assert _whoami(alice)["username"] == "alice"
    with django_assert_num_queries(0):  # and the copy is signed with the new key now
        assert _whoami(alice)["username"] == "alice"
    assert _whoami(bob)["authenticated"] is False  # a session not seen during the rotation ends
