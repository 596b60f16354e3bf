"""The lean asyncio client (``LeanAsyncRedis``) against real servers: same replies as
redis.asyncio, one connection per concurrent command, clean connections after
cancellation and timeouts, redis-py's retry attempts, Sentinel routing and failover."""

from __future__ import annotations

import asyncio
import inspect
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis
import redis.asyncio
import redis.asyncio.connection
import redis.asyncio.sentinel
from redis.asyncio.retry import Retry
from redis.backoff import EqualJitterBackoff

from django_redis_patterns.client.leanasync import LeanAsyncRedis
from tests.core.lean import requires_lean

pytestmark = requires_lean("async")


def _pool(url: str, retries: int = 1, **kwargs: Any) -> redis.asyncio.ConnectionPool:
    # The retry connections.py gives every client.
    retry = Retry(EqualJitterBackoff(cap=0.2, base=0.02), retries)
    return redis.asyncio.ConnectionPool.from_url(url, retry=retry, max_connections=1000, **kwargs)


def _lean(url: str, retries: int = 1, **kwargs: Any) -> LeanAsyncRedis:
    return LeanAsyncRedis.from_pool(_pool(url, retries, **kwargs))


def _plain(url: str, retries: int = 1, **kwargs: Any) -> redis.asyncio.Redis:
    return redis.asyncio.Redis.from_pool(_pool(url, retries, **kwargs))


async def test_replies_match_redis_asyncio(standalone_server: Any) -> None:
    lean = _lean(standalone_server.url)
    plain = _plain(standalone_server.url)
    await plain.delete("la:s", "la:z", "la:h", "la:text", "la:l")
    await lean.set("la:s", "v", px=60_000)
    await lean.zadd("la:z", {"a": 1, "b": 2.5})
    await lean.hset("la:h", mapping={"f": "1", "g": "2"})
    await lean.rpush("la:l", "x", "y")
    await lean.set("la:text", "abc")
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
        ("get", ("la:s",), {}),
        ("type", ("la:z",), {}),
        ("exists", ("la:s", "la:missing"), {}),
        ("zrange", ("la:z", 0, -1), {"withscores": True}),
        ("zrevrange", ("la:z", 0, -1), {"withscores": True, "score_cast_func": int}),
        ("zrevrank", ("la:z", "a"), {}),
        ("zscore", ("la:z", "b"), {}),
        ("hgetall", ("la:h",), {}),
        ("lrange", ("la:l", 0, -1), {}),
        ("mget", (["la:s", "la:missing"],), {}),
        ("mget", ([],), {}),  # EMPTY_RESPONSE: the server's arity error becomes []
        ("eval", ("return {KEYS[1], ARGV[1], 3}", 1, "k", "x"), {}),
        ("getrange", ("la:s", 0, 0), {}),
        ("pttl", ("la:missing",), {}),
        ("set", ("la:s", "v"), {"nx": True}),
        ("ping", (), {}),
        ("echo", ("hello",), {}),
        ("config_get", ("maxmemory",), {}),
        ("info", ("server",), {}),
        ("dump", ("la:s",), {}),  # NEVER_DECODE
    ]
    for name, args, kwargs in calls:
        mine = await getattr(lean, name)(*args, **kwargs)
        theirs = await getattr(plain, name)(*args, **kwargs)
        if name == "info":  # times differ; the parsed shape must not
            mine, theirs = sorted(mine), sorted(theirs)
        assert mine == theirs, name
    with pytest.raises(redis.ResponseError, match="not an integer") as lean_error:
        await lean.incr("la:text")
    with pytest.raises(redis.ResponseError) as plain_error:
        await plain.incr("la:text")
    assert str(lean_error.value) == str(plain_error.value)
    with pytest.raises(redis.exceptions.NoScriptError):
        await lean.evalsha("0" * 40, 0)
    with pytest.raises(redis.DataError):
        await lean.set("la:bad", None)  # type: ignore[arg-type]
    assert await lean.get("la:text") == b"abc"
    assert len(lean._lean_free) == 1  # errors above left the one connection clean and idle
    await lean.aclose()
    await plain.aclose()


async def test_decoded_replies_match_redis_asyncio(standalone_server: Any) -> None:
    lean = _lean(standalone_server.url, decode_responses=True)
    plain = _plain(standalone_server.url, decode_responses=True)
    await lean.hset("la:dh", mapping={"f": "é"})
    await lean.zadd("la:dz", {"é": 3})
    assert await lean.hgetall("la:dh") == await plain.hgetall("la:dh") == {"f": "é"}
    assert await lean.zrange("la:dz", 0, -1, withscores=True) == await plain.zrange("la:dz", 0, -1, withscores=True)
    assert await lean.dump("la:dh") == await plain.dump("la:dh")  # bytes despite decode_responses
    await lean.aclose()
    await plain.aclose()


async def test_sequential_commands_share_one_connection(standalone_server: Any) -> None:
    lean = _lean(standalone_server.url)
    ids = {await lean.client_id() for _ in range(20)}
    assert len(ids) == 1
    await lean.aclose()


async def test_200_concurrent_commands_each_get_their_own_reply(standalone_server: Any) -> None:
    lean = _lean(standalone_server.url)
    replies = await asyncio.gather(*(lean.execute_command("ECHO", f"n{i}") for i in range(200)))
    assert replies == [f"n{i}".encode() for i in range(200)]

    async def set_then_get(i: int) -> bytes | None:
        await lean.set(f"la:g:{i}", i)
        return await lean.get(f"la:g:{i}")  # type: ignore[no-any-return]

    assert await asyncio.gather(*(set_then_get(i) for i in range(200))) == [str(i).encode() for i in range(200)]
    assert 1 < len(lean._lean_free) <= 200  # concurrent commands took separate connections
    assert lean._lean_busy == 0
    await lean.aclose()


async def test_max_connections_applies_as_in_redis_py(standalone_server: Any) -> None:
    lean = LeanAsyncRedis.from_url(standalone_server.url, max_connections=5)
    results = await asyncio.gather(*(lean.execute_command("ECHO", i) for i in range(6)), return_exceptions=True)
    assert sum(isinstance(r, redis.exceptions.MaxConnectionsError) for r in results) == 1
    assert len(lean._lean_free) == 5 and lean._lean_busy == 0
    assert await asyncio.gather(*(lean.execute_command("ECHO", i) for i in range(5))) == [b"0", b"1", b"2", b"3", b"4"]
    await lean.aclose()


async def _cancel_task(coro: Awaitable[Any]) -> None:
    task = asyncio.ensure_future(coro)
    await asyncio.sleep(0.2)  # sent, waiting for the paused server's reply
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def _cancel_by_timeout(coro: Awaitable[Any]) -> None:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await coro


async def _cancel_by_wait_for(coro: Awaitable[Any]) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(coro, 0.2)


CANCELLERS = [_cancel_task, _cancel_by_timeout, _cancel_by_wait_for]


@pytest.mark.parametrize("cancel", CANCELLERS, ids=["cancel", "timeout", "wait_for"])
async def test_a_cancelled_commands_late_reply_is_never_read_by_the_next(
    redis_factory: Any, cancel: Callable[[Awaitable[Any]], Awaitable[None]]
) -> None:
    server = redis_factory("standalone").servers[0]
    lean = _lean(server.url)
    await lean.set("late", "the cancelled command's reply")
    await lean.set("other", "value")
    assert len(lean._lean_free) == 1
    server.pause()
    try:
        await cancel(lean.get("late"))
    finally:
        server.resume()
    await asyncio.sleep(0.1)  # the late reply is on the wire now, if the socket were still open
    assert len(lean._lean_free) == 1  # the same connection, disconnected, reconnects
    assert await lean.get("other") == b"value"
    assert await asyncio.gather(*(lean.execute_command("ECHO", i) for i in range(3))) == [b"0", b"1", b"2"]
    await lean.aclose()


@pytest.mark.parametrize("cancel", CANCELLERS, ids=["cancel", "timeout", "wait_for"])
async def test_a_handshake_cut_short_is_never_reused(
    redis_factory: Any, cancel: Callable[[Awaitable[Any]], Awaitable[None]]
) -> None:
    # A new connection's handshake (CLIENT SETINFO, SELECT 3) is interrupted: the connection
    # must not be reused half set up (it would talk to db 0).
    server = redis_factory("standalone").servers[0]
    lean = _lean(server.url.rsplit("/", 1)[0] + "/3")
    server.pause()
    try:
        await cancel(lean.set("where", "db3"))
    finally:
        server.resume()
    await asyncio.sleep(0.1)
    assert await lean.set("where", "db3") is True
    assert server.client(db=3).get("where") == b"db3"
    assert server.client(db=0).get("where") is None
    await lean.aclose()


@pytest.mark.parametrize("socket_timeout", [None, 2.0])
async def test_commands_cancelled_at_random_moments_never_get_another_reply(
    standalone_server: Any, socket_timeout: float | None
) -> None:
    # With a socket timeout, redis-py sends under asyncio.wait_for, which on Python 3.11
    # swallows a cancellation that arrives once the send is done (the command then runs to
    # completion, as with redis.asyncio itself); without one, every early deadline lands in
    # the read. Either way no command may ever return another command's reply.
    lean = _lean(standalone_server.url, socket_timeout=socket_timeout)
    await asyncio.gather(*(lean.ping() for _ in range(50)))  # 50 open connections
    rng = random.Random(7)
    wrong: list[tuple[int, Any]] = []
    outcomes = {"cancelled": 0, "completed": 0}

    async def one(i: int) -> None:
        try:
            async with asyncio.timeout(10 ** rng.uniform(-6, -1.5)):  # 1 µs to 30 ms
                reply = await lean.execute_command("ECHO", i)
        except TimeoutError:
            outcomes["cancelled"] += 1
            return
        outcomes["completed"] += 1
        if reply != str(i).encode():
            wrong.append((i, reply))

    for batch in range(20):
        await asyncio.gather(*(one(batch * 50 + j) for j in range(50)))
    assert wrong == []
    assert outcomes["completed"] > 0
    if socket_timeout is None:
        assert outcomes["cancelled"] > 0
    assert await asyncio.gather(*(lean.execute_command("ECHO", i) for i in range(50))) == [
        str(i).encode() for i in range(50)
    ]
    assert lean._lean_busy == 0
    await lean.aclose()


async def test_a_timed_out_reply_is_never_read_by_the_next_command(redis_factory: Any) -> None:
    server = redis_factory("standalone").servers[0]
    lean = _lean(server.url, retries=0, socket_timeout=0.5)
    await lean.set("other", "value")
    server.pause()
    try:
        with pytest.raises(redis.TimeoutError):
            await lean.set("slow", "1")  # queued on the paused server; its +OK arrives later
    finally:
        server.resume()
    await asyncio.sleep(0.1)  # the late +OK is on the wire now, if the socket were still open
    assert await lean.get("other") == b"value"
    await lean.aclose()


@pytest.mark.parametrize("retries", [0, 1])
async def test_a_silent_server_costs_one_socket_timeout_per_attempt(redis_factory: Any, retries: int) -> None:
    # An established connection whose server stops answering: the read times out; with a
    # retry, the reconnect's handshake times out too. As many socket timeouts as redis-py's
    # own client spends, never more.
    server = redis_factory("standalone").servers[0]
    timeout = 0.4
    took: dict[str, float] = {}
    for kind, make in (("lean", _lean), ("redis.asyncio", _plain)):
        client = make(server.url, retries=retries, socket_timeout=timeout)
        await client.ping()
        server.pause()
        try:
            started = time.monotonic()
            with pytest.raises(redis.TimeoutError):
                await client.get("k")
            took[kind] = time.monotonic() - started
        finally:
            server.resume()
        await client.aclose()
    attempts = retries + 1
    for kind, seconds in took.items():
        assert attempts * timeout * 0.9 <= seconds < (attempts + 0.9) * timeout, f"{kind} gave up after {seconds:.2f}s"


async def test_a_restarted_server_is_reconnected_by_the_retry(redis_factory: Any) -> None:
    server = redis_factory("standalone").servers[0]
    lean = _lean(server.url, retries=1)
    await lean.set("k", "1")
    server.restart()  # blocking: the event loop has not seen the old connection close
    assert await lean.ping() is True  # the stale connection fails once, the retry reconnects
    await lean.aclose()


async def test_retries_zero_means_one_attempt(redis_factory: Any) -> None:
    server = redis_factory("standalone").servers[0]
    for make in (_lean, _plain):  # the same outcome as redis.asyncio
        client = make(server.url, retries=0)
        await client.set("k", "1")
        server.restart()
        with pytest.raises(redis.ConnectionError):
            await client.get("k")  # the stale connection fails, and nothing retries it
        assert await client.ping() is True  # the next command reconnects
        await client.aclose()


def _maint_notifications_off() -> dict[str, Any]:
    """The option that turns redis.asyncio's maintenance notifications off, where it has them
    (redis-py 8.1+); older asyncio connections have none, which is the same as off."""
    try:
        from redis.maint_notifications import MaintNotificationsConfig
    except ImportError:
        return {}
    init = inspect.signature(redis.asyncio.connection.AbstractConnection.__init__)
    if "maint_notifications_config" not in init.parameters:
        return {}
    return {"maint_notifications_config": MaintNotificationsConfig(enabled=False)}


async def test_a_connection_closed_while_idle_is_replaced_before_use(redis_factory: Any) -> None:
    # As redis.asyncio's pool does on checkout when maintenance notifications are off (with
    # them on, redis-py 8's default "auto", it leaves a closed connection to the retry):
    # the event loop saw the server close the connection, so it is reconnected before the
    # command, even with no retries.
    server = redis_factory("standalone").servers[0]
    for make in (_lean, _plain):
        client = make(server.url, retries=0, **_maint_notifications_off())
        await client.set("k", "1")
        server.restart()
        await asyncio.sleep(0.2)  # the loop reads the EOF
        assert await client.get("k") is None  # a new (empty) server, reached without an error
        await client.aclose()


async def test_aclose_disconnects_idle_connections(standalone_server: Any) -> None:
    lean = _lean(standalone_server.url)
    await asyncio.gather(lean.ping(), lean.ping())
    conns = list(lean._lean_free)
    assert conns and all(c.is_connected for c in conns)
    await lean.aclose()
    assert not any(c.is_connected for c in conns)
    assert lean._lean_free == []
    assert await lean.ping() is True  # usable again, as a redis.asyncio client is


async def test_single_connection_pipelines_and_pubsub_use_redis_py(standalone_server: Any) -> None:
    single = LeanAsyncRedis.from_url(standalone_server.url, single_connection_client=True)
    assert await single.set("la:single", "1") is True
    assert single.connection is not None and single._lean_free == []
    await single.aclose()
    lean = _lean(standalone_server.url)
    async with lean.pipeline(transaction=True) as pipe:
        pipe.set("la:p", "1").incr("la:p").get("la:p")
        assert await pipe.execute() == [True, 2, b"2"]
    pubsub = lean.pubsub()
    await pubsub.subscribe("la:chan")
    assert await lean.publish("la:chan", "hi") == 1
    message = None
    for _ in range(50):
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if message:
            break
    assert message is not None and message["data"] == b"hi"
    await pubsub.aclose()
    await lean.aclose()


def _lean_primary(group: Any, retries: int = 1) -> LeanAsyncRedis:
    sentinel = redis.asyncio.sentinel.Sentinel(
        [(s.host, s.port) for s in group.sentinels],
        socket_timeout=2,
        retry=Retry(EqualJitterBackoff(cap=0.2, base=0.02), retries),
    )
    client = sentinel.master_for(group.service, redis_class=LeanAsyncRedis)
    assert isinstance(client, LeanAsyncRedis)
    return client


async def test_sentinel_commands_go_to_the_current_primary(sentinel_group: Any) -> None:
    client = _lean_primary(sentinel_group)
    infos = await asyncio.gather(*(client.info("server") for _ in range(5)))
    assert {info["tcp_port"] for info in infos} == {sentinel_group.current_primary().port}
    assert (await client.execute_command("ROLE"))[0] == b"master"
    assert await client.set("la:sentinel", "1") is True
    await client.aclose()


async def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.mark.slow
async def test_sentinel_failover_moves_every_connection_to_the_new_primary(redis_factory: Any) -> None:
    group = redis_factory("sentinel", replicas=1)
    old = group.current_primary()
    client = _lean_primary(group, retries=1)
    await asyncio.gather(client.ping(), client.ping())  # two connections to the old primary
    assert len(client._lean_free) == 2
    with group.sentinels[0].client() as sentinel:
        sentinel.execute_command("SENTINEL", "FAILOVER", group.service)

    def switched() -> bool:
        try:
            if group.current_primary() is old:
                return False
            return bool(old.client().execute_command("ROLE")[0] == b"slave")
        except redis.RedisError:
            return False

    await _wait_for(switched, "the failover")
    new = group.current_primary()
    # A write on a connection to the demoted primary fails with READONLY; the retry asks
    # Sentinel for the new primary (a plain reconnect would go back to the old address).
    assert await client.set("la:after", "1") is True
    assert new.client().get("la:after") == b"1"
    # The other idle connection still points at the demoted primary: dropped on checkout.
    infos = await asyncio.gather(*(client.info("server") for _ in range(2)))
    assert [info["tcp_port"] for info in infos] == [new.port, new.port]
    await client.aclose()
