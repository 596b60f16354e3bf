"""OPTIONS["NEAR_CACHE"]: hot reads from process memory, invalidated by Redis (standalone server).

"Another process" is another Redis connection (a plain redis-py client, or a forked
process): to the server both are simply other clients.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from redis.crc import key_slot

from django_redis_patterns.cache import nearbackend, nearcache
from django_redis_patterns.exceptions import ImproperlyConfigured
from tests.cache.conftest import counting, point_default_at

HOT = {"MAX_ENTRIES": 100, "KEYS": ["hot:*"]}


@pytest.fixture(autouse=True)
def _fresh_stores() -> Iterator[None]:
    nearcache.reset()
    yield
    nearcache.reset()


def near(topology: Any, settings: Any, **near_options: Any) -> Any:
    cache = point_default_at(settings, topology.location, OPTIONS={"NEAR_CACHE": {**HOT, **near_options}})
    assert cache.near_cache().wait_live(5), "tracking was not established"
    return cache


@pytest.fixture
def other(topology: Any) -> Iterator[Any]:
    """A separate Redis client: writes from it are another client's writes."""
    client = topology.group.data_clients()[0]
    yield client
    client.close()


def eventually(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout}s")
        time.sleep(0.002)


def warm(cache: Any, *keys: str) -> None:
    """Give each key a local copy that no invalidation already on its way will drop.

    Redis also sends this process the invalidation of its own writes. Arriving while a read
    is in flight, it makes the placeholder rule drop that read's reply (the process cannot
    tell it from someone else's newer write); arriving after a read was kept, it drops the
    copy. Either way it costs one more miss. So first wait for the invalidations already
    sent for the key to be applied: write another tracked key that lives on the same node
    (the node's invalidations arrive in order) and wait until its invalidation is applied.
    """
    store = cache.near_cache()
    applied: list[str] = []
    discard = store.discard

    def recording(made_keys: Any) -> None:
        made_keys = list(made_keys)
        applied.extend(made_keys)
        discard(made_keys)

    store.discard = recording
    try:
        for key in keys:
            barrier = _same_node_key(f":1:{key}")
            eventually(lambda b=barrier: wrote(cache._client(), b, b"1"), f"writing {barrier}")
            eventually(lambda b=barrier: b in applied, f"the invalidation of {barrier}")
            eventually(
                lambda k=key: cache.get(k) is not None and f":1:{k}" in store._data,
                f"a local copy of {key} (now: {cache.get(key)!r}, live {store.live}, {store.stats()})",
            )
    finally:
        del store.discard


def wrote(client: Any, key: str, value: bytes) -> bool:
    """SET, or False while a failover is still settling (a connection closed by the server)."""
    try:
        return bool(client.set(key, value))
    except Exception:
        return False


@functools.cache
def _same_node_key(made: str) -> str:
    """A tracked key in the same Cluster slot as ``made`` (on one server any key would do)."""
    slot = key_slot(made.encode())
    for i in itertools.count():
        candidate = f":1:hot:barrier:{i}"
        if key_slot(candidate.encode()) == slot:
            return candidate
    raise AssertionError("unreachable")


def reads(counts: dict[str, int]) -> int:
    """Values Redis looked up: every read, near-cache miss or not, runs exactly one GET/MGET/EXISTS
    (a near-cache miss runs its GET inside a script or a pipeline beside a PTTL)."""
    return sum(n for name, n in counts.items() if name in ("get", "mget", "exists"))


# -- options --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"MAX_ENTRIES": 0}, "'MAX_ENTRIES'] must be a positive integer, got 0"),
        ({"MAX_ENTRIES": "10"}, "'MAX_ENTRIES'] must be a positive integer, got '10'"),
        ({"MAX_BYTES": -1}, "'MAX_BYTES'] must be a positive integer, got -1"),
        ({"MAX_AGE": 0}, "'MAX_AGE'] must be a positive number of seconds, got 0"),
        ({"KEYS": "hot:*"}, "['KEYS'] must be a non-empty list of key prefixes"),
        ({"KEYS": ["a*b"]}, "'a*b' is not a prefix; only a trailing '*' is allowed"),
        ({"KEYS": ["hot:*", "hot:flags:*"]}, "'hot:*' already covers 'hot:flags:*'"),
        ({"MAX_ENTRY": 5}, "unknown key(s) MAX_ENTRY"),
        ([1], "must be a dict of MAX_ENTRIES, MAX_BYTES, MAX_AGE, KEYS"),
    ],
)
def test_a_bad_option_is_an_error_naming_it(topology: Any, settings: Any, value: Any, message: str) -> None:
    cache = point_default_at(settings, topology.location, OPTIONS={"NEAR_CACHE": value})
    with pytest.raises(ImproperlyConfigured, match="NEAR_CACHE") as info:
        cache.get("k")
    assert message in str(info.value)
    with pytest.raises(SystemCheckError) as check:
        call_command("check")
    assert "redis_patterns.E050" in str(check.value) and message in str(check.value)


def test_a_custom_key_function_is_refused(topology: Any, settings: Any) -> None:
    cache = point_default_at(
        settings, topology.location, KEY_FUNCTION=lambda k, p, v: f"{v}|{k}", OPTIONS={"NEAR_CACHE": {}}
    )
    with pytest.raises(ImproperlyConfigured, match=r"NEAR_CACHE.*default KEY_FUNCTION"):
        cache.get("k")


def test_a_valid_configuration_passes_the_checks(topology: Any, settings: Any) -> None:
    point_default_at(settings, topology.location, OPTIONS={"NEAR_CACHE": HOT})
    call_command("check")


# -- hits, bounds, copies -------------------------------------------------------------------
def test_hot_reads_after_the_first_never_reach_redis(topology: Any, settings: Any) -> None:
    cache = near(topology, settings)
    cache.set("hot:flag", {"on": True})
    cache.set("cold", 1)
    warm(cache, "hot:flag")
    with counting(topology.group) as counts:
        got = [cache.get("hot:flag") for _ in range(50)]
        colds = [cache.get("cold") for _ in range(5)]
    assert got == [{"on": True}] * 50 and colds == [1] * 5
    assert reads(counts) == 5  # none for the hot key, every read of the untracked key


def test_the_lru_keeps_at_most_max_entries_and_drops_the_least_recently_used(topology: Any, settings: Any) -> None:
    cache = near(topology, settings, MAX_ENTRIES=3)
    cache.set_many({f"hot:{i}": i for i in range(5)})
    for i in (0, 1, 2, 0, 3, 4):
        warm(cache, f"hot:{i}")
    store = cache.near_cache()
    assert len(store) == 3
    with counting(topology.group) as counts:
        assert [cache.get(f"hot:{i}") for i in (0, 3, 4)] == [0, 3, 4]
    assert reads(counts) == 0  # 0 was used again after 1 and 2, so 1 and 2 were the ones dropped


def test_max_bytes_bounds_the_store(topology: Any, settings: Any) -> None:
    cache = near(topology, settings, MAX_BYTES=4000)
    for i in range(20):
        cache.set(f"hot:{i}", "x" * 500)
        warm(cache, f"hot:{i}")  # past our own write's invalidation, each read is kept
    stats = cache.near_cache().stats()
    assert 0 < stats["entries"] < 20 and stats["bytes"] <= 4000


def test_callers_never_share_a_mutable_value(topology: Any, settings: Any) -> None:
    cache = near(topology, settings)
    cache.set("hot:config", {"items": [1, 2]})
    warm(cache, "hot:config")
    first = cache.get("hot:config")
    first["items"].append(3)
    first["new"] = True
    assert cache.get("hot:config") == {"items": [1, 2]}
    assert cache.get_many(["hot:config"]) == {"hot:config": {"items": [1, 2]}}


def test_a_local_copy_lives_no_longer_than_its_redis_ttl(topology: Any, settings: Any) -> None:
    cache = near(topology, settings)
    cache.set("hot:brief", "v", timeout=0.3)
    warm(cache, "hot:brief")
    time.sleep(0.35)
    assert cache.get("hot:brief") is None


def test_other_versions_and_keys_are_not_near_cached(topology: Any, settings: Any) -> None:
    cache = near(topology, settings)
    cache.set("hot:v", "two", version=2)
    cache.set("plain", "p")
    assert cache.get("hot:v", version=2) == "two" and cache.get("plain") == "p"
    assert len(cache.near_cache()) == 0


# -- invalidation -----------------------------------------------------------------------------
def test_the_writing_process_reads_its_own_writes_at_once(topology: Any, settings: Any) -> None:
    cache = near(topology, settings)
    steps: list[tuple[str, Callable[[], Any], Any]] = [
        ("set", lambda: cache.set("hot:k", 2), 2),
        ("incr", lambda: cache.incr("hot:k"), 3),
        ("decr", lambda: cache.decr("hot:k", 2), 1),
        ("set_many", lambda: cache.set_many({"hot:k": 7}), 7),
        ("touch 0", lambda: cache.touch("hot:k", 0), None),
        ("add", lambda: cache.add("hot:k", 8), 8),
        ("delete", lambda: cache.delete("hot:k"), None),
        ("set again", lambda: cache.set("hot:k", 9), 9),
        ("expire", lambda: cache.expire("hot:k", 0), None),
        ("set once more", lambda: cache.set("hot:k", 10), 10),
        ("delete_many", lambda: cache.delete_many(["hot:k"]), None),
        ("set before clear", lambda: cache.set("hot:k", 11), 11),
        ("clear", lambda: cache.clear(), None),
        ("set before delete_pattern", lambda: cache.set("hot:k", 12), 12),
        ("delete_pattern", lambda: cache.delete_pattern("hot:*"), None),
    ]
    cache.set("hot:k", 1)
    for name, write, expected in steps:
        cache.get("hot:k")  # a local copy (or a miss) before the write
        write()
        assert cache.get("hot:k") == expected, name


def test_incr_version_moves_the_key_out_of_the_near_cache(topology: Any, settings: Any) -> None:
    cache = near(topology, settings)
    cache.set("hot:page", "v1")
    assert cache.get("hot:page") == "v1"
    cache.incr_version("hot:page")
    assert cache.get("hot:page") is None
    assert cache.get("hot:page", version=2) == "v1"


@pytest.mark.parametrize(
    ("name", "change", "expected"),
    [
        ("SET", lambda r, k: r.set(k, b"5"), 5),
        ("DEL", lambda r, k: r.delete(k), None),
        ("PEXPIRE", lambda r, k: r.pexpire(k, 1), None),
        ("INCR", lambda r, k: r.incr(k), 2),
        ("FLUSHALL", lambda r, k: r.flushall(), None),
        ("FLUSHDB", lambda r, k: r.flushdb(), None),
        ("EVAL", lambda r, k: r.eval("return redis.call('SET', KEYS[1], '42')", 1, k), 42),
        ("RENAME onto it", lambda r, k: (r.set(k + "x", b"9"), r.rename(k + "x", k)), 9),
    ],
)
def test_another_clients_change_invalidates_the_local_copy(
    topology: Any, settings: Any, other: Any, name: str, change: Callable[[Any, str], Any], expected: Any
) -> None:
    cache = near(topology, settings)
    cache.set("hot:n", 1)
    warm(cache, "hot:n")
    change(other, ":1:hot:n")
    eventually(lambda: cache.get("hot:n") == expected, f"{name} reaching the near cache")


def test_another_backends_clear_invalidates(topology: Any, settings: Any) -> None:
    cache = near(topology, settings)
    cache.set_many({"hot:a": 1, "hot:b": 2})
    assert cache.get_many(["hot:a", "hot:b"]) == {"hot:a": 1, "hot:b": 2}
    from django_redis_patterns.cache.backend import RedisCache

    RedisCache(topology.location, {}).clear()  # no near cache: a plain other client
    eventually(lambda: cache.get_many(["hot:a", "hot:b"]) == {}, "clear() reaching the near cache")


def test_eviction_invalidates(redis_factory: Any, settings: Any) -> None:
    group = redis_factory("standalone", args=["--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru"])
    cache = point_default_at(settings, group.url, OPTIONS={"NEAR_CACHE": HOT})
    assert cache.near_cache().wait_live(5)
    cache.set("hot:first", "v")
    warm(cache, "hot:first")
    assert len(cache.near_cache()) == 1
    # Redis's LRU clock counts seconds: only a key last read in an earlier second than every
    # fill key is sure to be the least recently used one.
    time.sleep(1.1)
    filler = group.data_clients()[0]
    big = b"x" * 10_000
    for i in range(1000):  # ~10 MB through a 2 MB server: the LRU key goes
        filler.set(f"fill:{i}", big)
    assert filler.exists(":1:hot:first") == 0
    eventually(lambda: cache.get("hot:first") is None, "the eviction reaching the near cache")
    filler.close()


def test_a_value_read_while_its_invalidation_is_in_flight_is_never_kept(
    topology: Any, settings: Any, other: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Placeholder before the read: the reply of a read that an invalidation overtook is dropped."""
    cache = near(topology, settings)
    store = cache.near_cache()
    cache.set("hot:race", "old")
    warm(cache, "hot:race")  # our own write's invalidation has come and gone
    store.flush()  # so the next read is a miss that would be kept
    real = nearbackend._read_with_ttl

    def read_then_someone_writes(client: Any, made: str) -> Any:
        reply = real(client, made)  # the old value is on its way back to us...
        other.set(made, b"\x80\x05\x95\x07\x00\x00\x00\x00\x00\x00\x00\x8c\x03new\x94.")  # pickle of "new"
        eventually(lambda: made not in store._pending, "the invalidation")  # ...and is overtaken
        return reply

    monkeypatch.setattr(nearbackend, "_read_with_ttl", read_then_someone_writes)
    assert cache.get("hot:race") == "old"  # this caller read before the write: fine
    monkeypatch.setattr(nearbackend, "_read_with_ttl", real)
    assert len(store) == 0  # but the reply was not kept
    assert cache.get("hot:race") == "new"


def test_an_own_write_cancels_a_read_in_flight(topology: Any, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = near(topology, settings)
    cache.set("hot:mine", "old")
    warm(cache, "hot:mine")
    cache.near_cache().flush()
    real = nearbackend._read_with_ttl
    writer = caches.create_connection("default")  # another thread's backend instance, same store

    def read_then_write(client: Any, made: str) -> Any:
        reply = real(client, made)
        monkeypatch.setattr(nearbackend, "_read_with_ttl", real)
        writer.set("hot:mine", "new")
        return reply

    monkeypatch.setattr(nearbackend, "_read_with_ttl", read_then_write)
    assert cache.get("hot:mine") == "old"
    assert cache.get("hot:mine") == "new"


def test_losing_the_invalidation_connection_flushes_and_bypasses_until_it_is_back(
    topology: Any, settings: Any, other: Any
) -> None:
    cache = near(topology, settings)
    store = cache.near_cache()
    cache.set("hot:x", 1)
    warm(cache, "hot:x")
    (tracker,) = store.trackers
    reconnect = tracker._connect
    attempts = []

    def refused() -> Any:
        attempts.append(1)
        raise ConnectionRefusedError("invalidation connection refused (test)")

    tracker._connect = refused
    name = other.client_list(_type="pubsub")
    killed = other.client_kill_filter(_type="pubsub")
    assert killed == 1, name
    eventually(lambda: not store.live and len(attempts) >= 1, "the loss being noticed")
    assert len(store) == 0
    with counting(topology.group) as counts:
        got = [cache.get("hot:x") for _ in range(10)]
    assert got == [1] * 10 and reads(counts) == 10 and len(store) == 0  # every read went to Redis
    other.set(":1:hot:x", b"2")
    assert cache.get("hot:x") == 2  # and sees other writes at once
    tracker._connect = reconnect
    assert store.wait_live(5)
    warm(cache, "hot:x")
    with counting(topology.group) as counts:
        assert [cache.get("hot:x") for _ in range(10)] == [2] * 10
    assert reads(counts) == 0


def _child_view(conn: Any) -> None:
    cache = caches["default"]
    store = cache.near_cache()
    empty_at_start = len(store) == 0 and not store.live
    live = store.wait_live(5)
    value = cache.get("hot:fork")
    conn.send((empty_at_start, live, value, len(store)))
    conn.close()


def test_after_fork_the_child_starts_empty(topology: Any, settings: Any, other: Any) -> None:
    cache = near(topology, settings)
    cache.set("hot:fork", "parent")
    warm(cache, "hot:fork")
    other.set(":1:hot:fork", b"\x80\x05\x95\x09\x00\x00\x00\x00\x00\x00\x00\x8c\x05child\x94.")
    # The parent may still hold its copy for a moment; the child must not inherit it.
    parent_end, child_end = multiprocessing.Pipe()
    process = multiprocessing.get_context("fork").Process(target=_child_view, args=(child_end,))
    process.start()
    empty_at_start, live, value, entries = parent_end.recv()
    process.join(10)
    assert (empty_at_start, live, value, entries) == (True, True, "child", 1)


def test_threads_share_one_store_and_end_on_the_last_write(topology: Any, settings: Any, other: Any) -> None:
    near(topology, settings, MAX_ENTRIES=8)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)
    stop = threading.Event()

    def reader() -> None:
        cache = caches["default"]  # each thread its own backend instance
        try:
            barrier.wait()
            while not stop.is_set():
                for i in range(12):
                    value = cache.get(f"hot:{i}")
                    assert value is None or isinstance(value, int)
        except BaseException as exc:
            errors.append(exc)

    def writer() -> None:
        cache = caches["default"]
        try:
            barrier.wait()
            for n in range(300):
                cache.set(f"hot:{n % 12}", n)
                other.set(f":1:hot:{(n + 5) % 12}", n)
        except BaseException as exc:
            errors.append(exc)
        finally:
            stop.set()

    threads = [threading.Thread(target=reader) for _ in range(3)] + [threading.Thread(target=writer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    final = {i: int(other.get(f":1:hot:{i}")) for i in range(12)}
    cache = caches["default"]
    eventually(lambda: {i: cache.get(f"hot:{i}") for i in range(12)} == final, "every thread seeing the last writes")
    stats = cache.near_cache().stats()
    assert stats["entries"] <= 8


# -- async ------------------------------------------------------------------------------------
def test_async_reads_share_the_store_with_sync_ones(topology: Any, settings: Any, other: Any) -> None:
    cache = near(topology, settings)

    async def scenario() -> list[Any]:
        seen = []
        cache.set("hot:a", "sync")
        warm(cache, "hot:a")  # by sync reads
        with counting(topology.group) as counts:
            seen.append(await cache.aget("hot:a"))  # kept by the sync read
            seen.append(await cache.aget_many(["hot:a"]))
            seen.append(await cache.ahas_key("hot:a"))
        seen.append(reads(counts))
        await cache.aset("hot:a", "async")
        seen.append(cache.get("hot:a"))  # own async write, read at once
        await cache.aset("hot:b", {"n": 1})
        got = await cache.aget("hot:b")
        got["n"] = 2
        seen.append(await cache.aget("hot:b"))
        other.set(":1:hot:b", b"3")
        deadline = time.monotonic() + 5
        while await cache.aget("hot:b") != 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
        seen.append(await cache.aget("hot:b"))
        await cache.adelete("hot:b")
        seen.append(await cache.aget("hot:b", "gone"))
        await cache.aset_many({"hot:c": 1})
        seen.append(await cache.aget_or_set("hot:c", lambda: 5))
        await cache.aclear()
        seen.append(await cache.aget("hot:a"))
        return seen

    assert asyncio.run(scenario()) == ["sync", {"hot:a": "sync"}, True, 0, "async", {"n": 1}, 3, "gone", 1, None]


def test_async_miss_is_kept_and_then_served_locally(topology: Any, settings: Any) -> None:
    cache = near(topology, settings)
    cache.set("hot:z", [1, 2])

    async def scenario() -> tuple[Any, int]:
        first = await cache.aget("hot:z")
        while ":1:hot:z" not in cache.near_cache()._data:  # see warm()
            await cache.aget("hot:z")
        with counting(topology.group) as counts:
            again = [await cache.aget("hot:z") for _ in range(20)]
        return (first, again), reads(counts)

    (first, again), n = asyncio.run(scenario())
    assert first == [1, 2] and again == [[1, 2]] * 20 and n == 0


def test_a_lean_client_sends_get_and_pttl_together_and_stays_clean_after_an_error(topology: Any, other: Any) -> None:
    from django_redis_patterns.client import connections

    client = connections.get_redis("default")
    other.set("plain", b"v", px=60_000)
    other.rpush("a-list", b"x")
    raw, pttl = client.execute_together(("GET", "plain"), ("PTTL", "plain"))
    assert raw == b"v" and 0 < pttl <= 60_000
    with pytest.raises(Exception, match="WRONGTYPE"):
        client.execute_together(("GET", "a-list"), ("PTTL", "a-list"))
    # Both replies were read: the connection answers the next command with its own reply.
    assert client.execute_together(("GET", "plain"), ("PTTL", "missing")) == [b"v", -2]
    assert client.get("plain") == b"v"


def test_a_restarted_server_empties_the_near_cache_until_tracking_is_back(redis_factory: Any, settings: Any) -> None:
    from tests.topologies import SHORT_COOLDOWN, after_cooldown

    group = redis_factory("standalone")
    options = {"NEAR_CACHE": HOT, "IGNORE_EXCEPTIONS": True, "CIRCUIT_BREAKER_COOLDOWN": SHORT_COOLDOWN}
    cache = point_default_at(settings, group.url, OPTIONS=options)
    store = cache.near_cache()
    assert store.wait_live(5)
    cache.set("hot:r", "v")
    warm(cache, "hot:r")
    (server,) = group.servers
    server.kill()
    eventually(lambda: not store.live, "the lost connection being noticed")
    assert len(store) == 0
    assert cache.get("hot:r", "dflt") == "dflt"  # Redis is gone, and so is the local copy
    server.start()
    after_cooldown()
    assert store.wait_live(10)
    assert cache.get("hot:r", "dflt") == "dflt"  # the restarted server is empty (no persistence)
    cache.set("hot:r", "w")
    warm(cache, "hot:r")


def test_a_server_that_refuses_tracking_leaves_the_near_cache_off_and_says_why(
    redis_factory: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    group = redis_factory("standalone")
    (server,) = group.servers
    with server.client() as admin:
        # Redis 7 can deny one subcommand; Redis 6.2's ACL only the whole CLIENT command.
        major = int(admin.info("server")["redis_version"].split(".")[0])
        denied = "-client|tracking" if major >= 7 else "-client"
        admin.execute_command("ACL", "SETUSER", "app", "on", ">pw", "~*", "&*", "+@all", denied)
    cache = point_default_at(settings, f"redis://app:pw@{server.address}/0", OPTIONS={"NEAR_CACHE": HOT})
    store = cache.near_cache()
    assert not store.wait_live(1)
    assert any("refused invalidation tracking" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
    cache.set("hot:k", 1)
    assert [cache.get("hot:k") for _ in range(3)] == [1, 1, 1] and len(store) == 0


async def test_a_value_the_signed_serializer_refuses_is_a_miss_on_every_path(
    topology: Any, settings: Any, other: Any
) -> None:
    """NEAR_CACHE with SERIALIZER="signed": a planted (unsigned) value is never unpickled,
    neither on the miss path nor from the local copy, and get_or_set replaces it."""
    import pickle

    cache = point_default_at(settings, topology.location, OPTIONS={"SERIALIZER": "signed", "NEAR_CACHE": HOT})
    assert cache.near_cache().wait_live(5), "tracking was not established"
    other.set(cache.make_key("hot:planted"), pickle.dumps({"planted": True}))
    assert cache.get("hot:planted", "dflt") == "dflt"  # read from Redis
    assert cache.get("hot:planted", "dflt") == "dflt"  # and again, wherever it is read from
    assert await cache.aget("hot:planted", "dflt") == "dflt"
    assert cache.get_many(["hot:planted"]) == {}
    assert cache.get_many(["hot:planted"]) == {}
    assert cache.get_or_set("hot:planted", lambda: "computed", 60) == "computed"
    eventually(lambda: cache.get("hot:planted") == "computed", "the recomputed value")
