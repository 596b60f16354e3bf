"""SessionStore on every topology: costs, atomicity, TTL, serializer, bad data, async twins."""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.sessions.backends.base import CreateError, UpdateError

from django_redis_patterns import get_redis
from django_redis_patterns.sessions import backend as backend_module
from django_redis_patterns.sessions import sealing
from django_redis_patterns.sessions.backend import SessionStore
from tests.sessions.conftest import command_counts, reset_command_counts
from tests.topologies import all_topologies


def _raw(key: str) -> bytes | None:
    return get_redis("default").get(f"session:s:{key}")  # type: ignore[no-any-return]


def _pttl(key: str) -> int:
    return int(get_redis("default").pttl(f"session:s:{key}"))


@all_topologies
def test_round_trip_and_request_cost(topology: Any) -> None:
    s = SessionStore()
    s["cart"] = [1, 2]
    s.save()
    key = s.session_key
    assert key is not None and len(key) == 32

    reset_command_counts(topology.group)
    # One request: load, change, save.
    s2 = SessionStore(key)
    assert s2["cart"] == [1, 2]
    s2["cart"] = [1, 2, 3]
    s2.save()
    counts = command_counts(topology.group)
    assert counts.get("get") == 1
    assert counts.get("set") == 1
    housekeeping = {
        "config|resetstat",
        "info",
        "cluster|slots",
        "cluster|shards",
        "command",
        "command|docs",
        "hello",
        "client|setinfo",
        "ping",
        "readonly",
        "replconf",  # replicas acknowledge replication to their primary once a second
        # Redis < 7 does not split subcommands in INFO commandstats: CONFIG RESETSTAT, CLIENT SETINFO
        "config",
        "client",
    }
    assert {k: v for k, v in counts.items() if k not in housekeeping | {"get", "set"}} == {}
    assert SessionStore(key)["cart"] == [1, 2, 3]


@all_topologies
def test_create_is_set_nx_and_retries_a_collision(topology: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    taken = SessionStore()
    taken["owner"] = "first"
    taken.save()
    fresh = "f" * 32
    keys = iter([taken.session_key, taken.session_key, fresh])
    monkeypatch.setattr(backend_module, "get_random_string", lambda *a, **k: next(keys))
    s = SessionStore()
    s["owner"] = "second"
    s.save()
    assert s.session_key == fresh
    # The colliding key was not overwritten.
    assert SessionStore(taken.session_key)["owner"] == "first"


@all_topologies
def test_create_gives_up_after_bounded_collisions(topology: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    taken = SessionStore()
    taken.save()
    calls = []

    def always_taken(*a: Any, **k: Any) -> str:
        calls.append(1)
        return taken.session_key  # type: ignore[return-value]

    monkeypatch.setattr(backend_module, "get_random_string", always_taken)
    with pytest.raises(RuntimeError, match="10 attempts"):
        SessionStore().create()
    assert len(calls) == backend_module.CREATE_ATTEMPTS == 10


@all_topologies
def test_must_create_on_existing_key_raises_create_error(topology: Any) -> None:
    s = SessionStore()
    s.save()
    other = SessionStore(s.session_key)
    with pytest.raises(CreateError):
        other.save(must_create=True)


@all_topologies
def test_update_never_resurrects_a_deleted_session(topology: Any) -> None:
    s1 = SessionStore()
    s1["v"] = 1
    s1.save()
    key = s1.session_key
    SessionStore(key).delete()
    s1["v"] = 2
    with pytest.raises(UpdateError):
        s1.save()
    assert _raw(key) is None  # type: ignore[arg-type]


@all_topologies
def test_concurrent_delete_vs_update_never_leaves_a_session(topology: Any) -> None:
    """20 sessions, each updated by one thread while another deletes it: none survives the race."""
    stores = []
    for _ in range(20):
        s = SessionStore()
        s["x"] = 0
        s.save()
        stores.append(s)
    barrier = threading.Barrier(40)
    errors: list[BaseException] = []

    def update(s: SessionStore) -> None:
        barrier.wait()
        s["x"] = 1
        try:
            s.save()
        except UpdateError:
            pass
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def delete(key: str) -> None:
        barrier.wait()
        SessionStore(key).delete()

    threads = [threading.Thread(target=update, args=(s,)) for s in stores]
    threads += [threading.Thread(target=delete, args=(s.session_key,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [s.session_key for s in stores if _raw(s.session_key) is not None] == []  # type: ignore[arg-type]


@all_topologies
def test_ttl_is_the_expiry_age(topology: Any) -> None:
    s = SessionStore()
    s.set_expiry(300)
    s.save()
    assert 295_000 < _pttl(s.session_key) <= 300_000  # type: ignore[arg-type]
    s2 = SessionStore(s.session_key)
    s2.set_expiry(timedelta(days=2))
    s2.save()
    assert 2 * 86_400_000 - 5_000 < _pttl(s.session_key) <= 2 * 86_400_000  # type: ignore[arg-type]
    s3 = SessionStore(s.session_key)
    s3.set_expiry(None)  # back to SESSION_COOKIE_AGE
    s3.save()
    assert s3.get_expiry_age() == 1209600
    assert 1_209_600_000 - 5_000 < _pttl(s.session_key) <= 1_209_600_000  # type: ignore[arg-type]


@all_topologies
def test_expired_expiry_deletes_the_session(topology: Any) -> None:
    s = SessionStore()
    s["a"] = 1
    s.save()
    s.set_expiry(-timedelta(seconds=5))
    s.save()
    assert _raw(s.session_key) is None  # type: ignore[arg-type]


@all_topologies
def test_json_is_the_default_serializer(topology: Any) -> None:
    s = SessionStore()
    s["when"] = "2026-01-01"
    s.save()
    raw = _raw(s.session_key)  # type: ignore[arg-type]
    header, _, body = raw.partition(b"\n")  # type: ignore[union-attr]
    assert header == b"v1"
    assert json.loads(body[32:]) == {"when": "2026-01-01"}  # after the 32-byte MAC: plain JSON
    s2 = SessionStore()
    s2["bad"] = {1, 2}
    with pytest.raises(TypeError):  # JSON cannot store a set: no silent pickle
        s2.save()


@all_topologies
def test_session_serializer_setting_is_honoured(topology: Any, settings: Any) -> None:
    settings.SESSION_SERIALIZER = "tests.sessions.serializers.SetJSONSerializer"
    s = SessionStore()
    s["tags"] = {"a", "b"}
    s.save()
    assert SessionStore(s.session_key)["tags"] == {"a", "b"}


@all_topologies
def test_garbage_in_redis_gives_an_empty_session_and_one_log_line(
    topology: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = get_redis("default")
    genuine = SessionStore()
    genuine["user"] = "alice"
    genuine.save()
    sealed = _raw(genuine.session_key)  # type: ignore[arg-type]
    header, _, body = sealed.partition(b"\n")  # type: ignore[union-attr]
    cases = {
        "a" * 32: b"\x80\x04\x95 not ours at all",  # e.g. a pickle from another engine
        "b" * 32: b"v1\nshort",  # our header, broken body
        "c" * 32: header + b"\n" + body[:32] + b'{"user":"admin"}',  # data edited in Redis
        "d" * 32: sealed,  # a genuine session copied to another key
        "e" * 32: header + b"\n" + sealing.seal(genuine.key_salt, "e" * 32, b"[1, 2]"),  # sealed, but not a dict
    }
    for key, value in cases.items():
        client.set(f"session:s:{key}", value)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            s = SessionStore(key)
            assert dict(s.items()) == {}
        assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1, (key, caplog.records)
    assert SessionStore(genuine.session_key)["user"] == "alice"


@all_topologies
def test_secret_key_rotation_keeps_sessions(topology: Any, settings: Any) -> None:
    s = SessionStore()
    s["a"] = 1
    s.save()
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-secret", [settings.SECRET_KEY]
    assert SessionStore(s.session_key)["a"] == 1
    settings.SECRET_KEY_FALLBACKS = []
    assert SessionStore(s.session_key).get("a") is None


@all_topologies
def test_junk_cookie_values_never_reach_redis(topology: Any) -> None:
    reset_command_counts(topology.group)
    for junk in ("x" * 500, "ABCDEFGHIJKL", "abc{tag}defgh", "../../etc/passwd"):
        s = SessionStore(junk)
        assert s.session_key is None
        assert s.get("a") is None
    assert command_counts(topology.group).get("get", 0) == 0


@all_topologies
def test_cycle_key_keeps_data_and_removes_old_key(topology: Any) -> None:
    s = SessionStore()
    s["a"] = 1
    s.save()
    old = s.session_key
    s.cycle_key()
    assert s.session_key != old
    assert _raw(old) is None  # type: ignore[arg-type]
    assert SessionStore(s.session_key)["a"] == 1


# -- async twins ------------------------------------------------------------------------


@pytest.fixture
def no_thread_hops(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if the base class's sync_to_async fallbacks are used: our twins must be native."""

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("sync_to_async used by the session store")

    monkeypatch.setattr("django.contrib.sessions.backends.base.sync_to_async", forbidden)


@all_topologies
async def test_async_twins_are_native_and_lean(topology: Any, no_thread_hops: None) -> None:
    s = SessionStore()
    await s.aset("n", 1)
    await s.asave()
    key = s.session_key
    assert await s.aexists(key)
    reset_command_counts(topology.group)
    s2 = SessionStore(key)
    assert await s2.aget("n") == 1
    await s2.aset("n", 2)
    await s2.asave()
    counts = command_counts(topology.group)
    assert (counts.get("get"), counts.get("set")) == (1, 1)
    s3 = SessionStore(key)
    assert await s3.aget("n") == 2
    await s3.acycle_key()
    assert not await s3.aexists(key)
    assert await SessionStore(s3.session_key).aget("n") == 2
    s1 = SessionStore(s3.session_key)
    assert await s1.aget("n") == 2  # loaded, then deleted elsewhere
    await s3.adelete()
    assert not await s3.aexists(s3.session_key)
    await s1.aset("x", 1)
    with pytest.raises(UpdateError):
        await s1.asave()
    await SessionStore.aclear_expired()


@all_topologies
def test_login_cycle_survives_a_collision(topology: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    taken = SessionStore()
    taken["owner"] = "someone else"
    taken.save()
    visitor = SessionStore()
    visitor["cart"] = [1]
    visitor.save()
    old = visitor.session_key
    fresh = "e" * 32
    keys = iter([taken.session_key, fresh])
    monkeypatch.setattr(backend_module, "get_random_string", lambda *a, **k: next(keys))
    visitor.cycle_key()
    assert visitor.session_key == fresh
    assert _raw(old) is None  # type: ignore[arg-type]
    assert SessionStore(fresh)["cart"] == [1]
    assert SessionStore(taken.session_key)["owner"] == "someone else"  # the collision overwrote nothing


@all_topologies
async def test_async_login_cycle(topology: Any) -> None:
    visitor = SessionStore()
    await visitor.aset("cart", [1])
    await visitor.asave()
    old = visitor.session_key
    await visitor.acycle_key()
    assert visitor.session_key != old
    assert not await visitor.aexists(old)
    assert await SessionStore(visitor.session_key).aget("cart") == [1]
