"""The lean client (``LeanRedis``) against real servers: same replies as redis-py, clean
connections after errors and timeouts, thread and fork safety, Sentinel routing."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
import time
from typing import Any

import pytest
import redis
import redis.asyncio
from django.test import override_settings

from django_redis_patterns import aget_redis, get_redis
from django_redis_patterns.client import compat, connections
from django_redis_patterns.client.leanasync import LeanAsyncRedis
from django_redis_patterns.client.leanclient import LeanRedis
from django_redis_patterns.exceptions import ImproperlyConfigured
from tests.topologies import all_topologies

OURS = "django_redis_patterns.cache.RedisCache"


def _alias(location: str, **options: Any) -> dict[str, Any]:
    return {"default": {"BACKEND": OURS, "LOCATION": location, "OPTIONS": options}}


def test_replies_match_redis_py(standalone_server: Any) -> None:
    lean = LeanRedis.from_url(standalone_server.url)
    plain = redis.Redis.from_url(standalone_server.url)
    plain.flushdb()
    lean.set("s", "v", px=60_000)
    lean.zadd("z", {"a": 1, "b": 2.5})
    lean.hset("h", mapping={"f": "1", "g": "2"})
    calls = [
        ("get", ("s",), {}),
        ("type", ("z",), {}),
        ("exists", ("s", "missing"), {}),
        ("zrange", ("z", 0, -1), {"withscores": True}),
        ("zrevrank", ("z", "a"), {}),
        ("zscore", ("z", "b"), {}),
        ("hgetall", ("h",), {}),
        ("mget", (["s", "missing"],), {}),
        ("eval", ("return {KEYS[1], ARGV[1], 3}", 1, "k", "x"), {}),
        ("getrange", ("s", 0, 0), {}),
        ("ping", (), {}),
    ]
    for name, args, kwargs in calls:
        assert getattr(lean, name)(*args, **kwargs) == getattr(plain, name)(*args, **kwargs), name
    assert lean.dump("s") == plain.dump("s")  # NEVER_DECODE path


def test_an_error_reply_leaves_the_connection_usable(standalone_server: Any) -> None:
    lean = LeanRedis.from_url(standalone_server.url)
    lean.set("text", "abc")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        lean.incr("text")
    with pytest.raises(redis.exceptions.NoScriptError):
        lean.evalsha("0" * 40, 0)
    assert lean.get("text") == b"abc"
    assert len(lean._lean_free) == 1  # one connection, reused


def test_sequential_commands_share_one_connection(standalone_server: Any) -> None:
    lean = LeanRedis.from_url(standalone_server.url)
    ids = {lean.client_id() for _ in range(20)}
    assert len(ids) == 1


def assert_threads_never_cross_replies(client: Any, prefix: str, *, threads: int = 8, rounds: int = 300) -> None:
    """Each thread writes and reads back its own keys while all share one client: a reply read
    by the wrong thread shows up as a wrong value, and a lost or doubled INCR in the total."""
    client.delete(f"{prefix}:total")

    def work(n: int) -> int:
        wrong = 0
        for i in range(rounds):
            key, value = f"{prefix}:{n}:{i % 7}", f"{n}-{i}"
            client.set(key, value)
            if client.get(key) != value.encode():
                wrong += 1
            client.incr(f"{prefix}:total")
        return wrong

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        assert sum(pool.map(work, range(threads))) == 0
    assert client.get(f"{prefix}:total") == str(threads * rounds).encode()


def test_threads_never_read_each_others_replies(standalone_server: Any) -> None:
    lean = LeanRedis.from_url(standalone_server.url)
    assert_threads_never_cross_replies(lean, "t")
    assert 1 <= len(lean._lean_free) <= 8


def test_a_timed_out_reply_is_never_read_by_the_next_command(redis_factory: Any) -> None:
    group = redis_factory("standalone")
    server = group.servers[0]
    lean = LeanRedis.from_url(server.url, socket_timeout=0.5)
    lean.set("other", "value")
    server.pause()
    try:
        with pytest.raises(redis.TimeoutError):
            lean.set("slow", "1")  # queued on the paused server; its +OK arrives later
    finally:
        server.resume()
    time.sleep(0.1)  # the late +OK is on the wire now, if the socket were still open
    assert lean.get("other") == b"value"


@pytest.mark.parametrize("retries", [0, 1])
def test_a_restarted_server_is_reconnected_by_the_retry_policy(redis_factory: Any, retries: int) -> None:
    group = redis_factory("standalone")
    # The circuit breaker off: this is the retry policy alone (with it, a failed call makes the
    # next ones fail fast for the cool-down; tests/core/test_breaker.py).
    with override_settings(CACHES=_alias(group.url, RETRIES=retries, CIRCUIT_BREAKER_COOLDOWN=0)):
        client = get_redis()
        client.set("k", "1")
        group.servers[0].restart()
        if retries == 0:
            with pytest.raises(redis.ConnectionError):
                client.get("k")  # the stale connection fails, and nothing retries it
        # RETRIES=1: the stale connection fails once and the retry reconnects;
        # RETRIES=0: the failed command left it disconnected, so this one reconnects.
        assert client.ping() is True


def test_a_forked_child_opens_its_own_connection(standalone_server: Any) -> None:
    lean = LeanRedis.from_url(standalone_server.url)
    parent_id = lean.client_id()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report its connection's id, never touch the parent's socket
        try:
            os.write(write, str(lean.client_id()).encode())
        finally:
            os._exit(0)
    os.close(write)
    child_id = int(os.read(read, 64))
    os.waitpid(pid, 0)
    assert child_id != parent_id
    assert lean.client_id() == parent_id  # the parent's connection is intact


def test_close_disconnects_idle_connections(standalone_server: Any) -> None:
    lean = LeanRedis.from_url(standalone_server.url)
    lean.ping()
    conn = lean._lean_free[0]
    lean.close()
    assert conn._sock is None


@pytest.mark.parametrize("lean", [True, False], ids=["lean", "redis-py"])
def test_max_connections_applies_as_in_redis_py(redis_factory: Any, lean: bool) -> None:
    # Three commands blocked on the server hold the three connections allowed; a fourth
    # command gets redis-py's MaxConnectionsError at once (no fourth connection, no wait),
    # and once they return their connections serve again.
    group = redis_factory("standalone")
    pool = redis.ConnectionPool.from_url(group.url, max_connections=3)
    client = LeanRedis(connection_pool=pool) if lean else redis.Redis(connection_pool=pool)
    with group.servers[0].client() as observer:
        lists = [f"maxconn:{i}" for i in range(3)]
        threads = [threading.Thread(target=client.blpop, args=([key],), kwargs={"timeout": 10}) for key in lists]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while sum(c["cmd"] == "blpop" for c in observer.client_list()) < 3:
            assert time.monotonic() < deadline, "three BLPOPs in flight"
            time.sleep(0.01)
        # (redis-py < 6's own pool raises a plain ConnectionError with the same text)
        expected = redis.exceptions.MaxConnectionsError if lean else redis.exceptions.ConnectionError
        with pytest.raises(expected, match="Too many connections"):
            client.get("maxconn:x")
        for key in lists:
            observer.rpush(key, "go")
        for thread in threads:
            thread.join(10)
        assert client.get("maxconn:x") is None
        assert len(observer.client_list()) == 3 + 1  # the three connections, reused (+ the observer)
    client.close()


@all_topologies
def test_commands_reach_the_topologys_own_servers(topology: Any) -> None:
    # Every command must land on the topology's primary, never on a default localhost:6379.
    client = get_redis()
    ports = {s.port for s in topology.group.servers if not s.sentinel}
    for i in range(20):
        client.set(f"where:{i}", "1")
    if connections.is_cluster(client):
        assert {n.port for n in client.get_nodes()} <= ports
    else:
        assert client.info("server")["tcp_port"] in ports


def test_sentinel_commands_go_to_the_current_primary(sentinel_group: Any, settings: Any) -> None:
    settings.CACHES = _alias(sentinel_group.url)
    client = get_redis()
    assert isinstance(client, LeanRedis)
    assert client.info("server")["tcp_port"] == sentinel_group.current_primary().port
    assert client.execute_command("ROLE")[0] == b"master"


def test_lean_client_option(standalone_server: Any) -> None:
    async def async_type() -> type:
        return type(await aget_redis())

    # The asyncio lean client needs redis-py >= 8 (client.compat); on older ones it is plain.
    async_lean = LeanAsyncRedis if compat.lean_status("async")[0] else redis.asyncio.Redis
    with override_settings(CACHES=_alias(standalone_server.url)):
        assert type(get_redis()) is LeanRedis
        assert asyncio.run(async_type()) is async_lean
    with override_settings(CACHES=_alias(standalone_server.url, LEAN_CLIENT=False)):
        assert type(get_redis()) is redis.Redis
        assert asyncio.run(async_type()) is redis.asyncio.Redis
    with override_settings(CACHES=_alias(standalone_server.url, LEAN_CLIENT="yes")):
        with pytest.raises(ImproperlyConfigured, match="LEAN_CLIENT"):
            get_redis()


def test_a_server_that_goes_silent_costs_two_socket_timeouts(redis_factory: Any) -> None:
    # An open connection whose server stops answering: the read times out, the retry
    # reconnects and its handshake times out too. Two socket timeouts, never more. (With the
    # circuit breaker on, a timeout is not retried: one; tests/core/test_breaker.py.)
    group = redis_factory("standalone")
    timeout = 0.5
    with override_settings(CACHES=_alias(group.url, SOCKET_TIMEOUT=timeout, RETRIES=1, CIRCUIT_BREAKER_COOLDOWN=0)):
        client = get_redis()
        client.ping()
        group.servers[0].pause()
        try:
            started = time.monotonic()
            with pytest.raises(redis.TimeoutError):
                client.get("k")
            took = time.monotonic() - started
        finally:
            group.servers[0].resume()
    assert 2 * timeout * 0.9 <= took < 3 * timeout, f"gave up after {took:.2f}s"


def test_commands_with_per_connection_state_take_redis_py_s_path() -> None:
    # HIMPORT needs Redis 8; the routing decision itself is what is checked here.
    from django_redis_patterns.client.leanclient import needs_redis_py

    assert needs_redis_py("HIMPORT SET") and needs_redis_py(b"himport") and needs_redis_py("HIMPORT")
    assert not needs_redis_py("GET") and not needs_redis_py(b"HSET") and not needs_redis_py("EVALSHA")
