"""The lean asyncio Cluster client (``LeanAsyncRedisCluster``) against real Clusters: the same
replies as redis.asyncio's ``RedisCluster`` for every command of the table, each command
sent once to its slot's primary, redirections followed by redis-py's own per-node code, and
redis-py's attempt accounting for a paused node."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import pytest
import redis
import redis.asyncio.cluster
from django.test import override_settings
from redis.crc import key_slot

from django_redis_patterns import aget_redis
from django_redis_patterns.client import connections
from django_redis_patterns.client.leanasynccluster import LeanAsyncRedisCluster
from django_redis_patterns.client.leancluster import LEAN_COMMANDS
from tests.core.lean import requires_lean
from tests.core.test_leanasync import _wait_for
from tests.core.test_leancluster import (
    OURS,
    SCRIPT,
    Rounded,
    _keys_in_many_slots,
    _node,
    _primary_of,
    _server,
    _settle,
    migrating,
    table_calls,
)

pytestmark = requires_lean("async-cluster")

AsyncCluster = redis.asyncio.cluster.RedisCluster


async def _clients(url: str, **options: Any) -> tuple[Any, Any]:
    """(lean, plain) asyncio clients for one Cluster, built as an alias's would be, initialised."""
    lean = connections.async_client_for_spec(connections.parse(url, options))
    plain = connections.async_client_for_spec(connections.parse(url, {**options, "LEAN_CLIENT": False}))
    assert type(lean) is LeanAsyncRedisCluster
    assert type(plain) is AsyncCluster
    await lean.initialize()
    await plain.initialize()
    return lean, plain


@pytest.fixture
def redis_py_sends(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Commands that went through redis-py's full ``RedisCluster.execute_command`` (counts only)."""
    sends: list[str] = []
    original = AsyncCluster.execute_command

    async def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        sends.append(str(args[0]))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(AsyncCluster, "execute_command", counting)
    return sends


@pytest.fixture
def node_sends(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str]]:
    """(port, command) of every command a Cluster node was sent (counts only)."""
    sends: list[tuple[int, str]] = []
    original = redis.asyncio.cluster.ClusterNode.execute_command

    async def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        sends.append((self.port, str(args[0])))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(redis.asyncio.cluster.ClusterNode, "execute_command", counting)
    return sends


async def _exercise(client: Any, key: str, sha: str) -> list[Any]:
    replies: list[Any] = []
    for call in table_calls(client, key, sha):
        try:
            pending = call()
            if isinstance(pending, Rounded):
                replies.append(Rounded.round(await pending.reply))
            else:
                replies.append(await pending)
        except redis.RedisError as exc:  # an error reply is a reply too: same type, same text
            replies.append(("error", type(exc).__name__, str(exc)))
    return replies


async def test_replies_match_redis_asyncio_for_every_table_command_in_every_slot_range(
    cluster: Any, redis_py_sends: list[str]
) -> None:
    lean, plain = await _clients(cluster.url)
    assert set(lean._lean_commands) == set(LEAN_COMMANDS)
    sha = await plain.script_load(SCRIPT)
    keys = _keys_in_many_slots("alean-replies", 24)
    assert len({lean.get_node_from_key(k).name for k in keys}) == len(cluster.primaries)
    for key in keys:
        redis_py_sends.clear()
        got = await _exercise(lean, key, sha)
        assert redis_py_sends == [], f"lean client used redis-py's path for {redis_py_sends}"
        expected = await _exercise(plain, key, sha)
        assert redis_py_sends, "the counter sees redis-py's path"
        assert got == expected, key
    for number in (0, 7, 12345, 987654321):  # integer keys: encoded (so routed) as redis-py does
        assert await lean.set(number, "int") is True
        assert await plain.get(number) == b"int"
        assert await lean.delete(number) == 1
    await lean.aclose()
    await plain.aclose()


async def test_each_command_is_sent_once_to_the_primary_that_owns_its_slot(
    cluster: Any, node_sends: list[tuple[int, str]], redis_py_sends: list[str]
) -> None:
    lean, _ = await _clients(cluster.url)
    owners: dict[int, int] = {}
    with contextlib.closing(cluster.primaries[0].client()) as any_node:
        for start, end, primary, *_ in any_node.execute_command("CLUSTER SLOTS"):
            for slot in range(int(start), int(end) + 1):
                owners[slot] = int(primary[1])
    keys = _keys_in_many_slots("alean-owner", 120)
    node_sends.clear()
    redis_py_sends.clear()
    for key in keys:
        assert await lean.set(key, "v") is True
        assert await lean.get(key) == b"v"
        assert await lean.delete(key) == 1  # one key: one DEL, not redis-py's per-slot pipeline
    expected = [(owners[key_slot(k.encode())], c) for k in keys for c in ("SET", "GET", "DEL")]
    assert node_sends == expected  # no redirection, no second try, no ASKING
    assert redis_py_sends == []
    # Several keys still go through redis-py's split by slot, and are counted right.
    for key in keys[:10]:
        await lean.set(key, "v")
    assert await lean.delete(*keys[:10]) == 10
    await lean.aclose()


async def test_scripts_over_two_slots_and_target_nodes_are_redis_pys(cluster: Any, redis_py_sends: list[str]) -> None:
    lean, plain = await _clients(cluster.url)
    sha = await plain.script_load(SCRIPT)
    a, b = "alean-script-a", "alean-script-b"
    assert key_slot(a.encode()) != key_slot(b.encode())
    errors = []
    for client in (lean, plain):
        with pytest.raises(redis.exceptions.RedisClusterException) as info:
            await client.execute_command("EVALSHA", sha, 2, a, b, "x")
        errors.append((type(info.value), str(info.value)))
    assert errors[0] == errors[1]
    redis_py_sends.clear()
    assert await lean.eval("return 1", 0) == 1  # no key: any node, redis-py decides
    assert await lean.execute_command("GET", a, target_nodes=lean.get_node_from_key(a)) is None
    assert redis_py_sends == ["EVAL", "GET"]
    await lean.aclose()
    await plain.aclose()


async def test_200_concurrent_commands_each_get_their_own_reply(cluster: Any) -> None:
    lean, _ = await _clients(cluster.url)
    keys = _keys_in_many_slots("alean-gather", 200)
    await asyncio.gather(*(lean.set(k, k) for k in keys))
    for _ in range(3):
        assert await asyncio.gather(*(lean.get(k) for k in keys)) == [k.encode() for k in keys]
    assert sum(await asyncio.gather(*(lean.delete(k) for k in keys))) == len(keys)
    await lean.aclose()


async def test_aget_redis_option_and_replica_reads(cluster: Any, redis_py_sends: list[str]) -> None:
    alias = {"BACKEND": OURS, "LOCATION": cluster.url}
    with override_settings(CACHES={"default": alias}):
        client = await aget_redis()
        assert type(client) is LeanAsyncRedisCluster
        assert set(client._lean_commands) == set(LEAN_COMMANDS)  # aget_redis initialised it
    with override_settings(CACHES={"default": {**alias, "OPTIONS": {"LEAN_CLIENT": False}}}):
        assert type(await aget_redis()) is AsyncCluster
    with override_settings(CACHES={"default": {**alias, "OPTIONS": {"READ_FROM_REPLICAS": True}}}):
        client = await aget_redis()
        assert type(client) is LeanAsyncRedisCluster
        assert client._lean_commands == {}  # replica reads: every command is redis-py's
        await client.set("{alean-r}x", "1")
        assert "SET" in redis_py_sends
        await client.delete("{alean-r}x")


# --- topology changes and failures, on throw-away Clusters ------------------------------


@pytest.mark.slow
async def test_resharding_and_a_manual_failover_are_followed_like_redis_py(
    redis_factory: Any, node_sends: list[tuple[int, str]]
) -> None:
    group = redis_factory("cluster")
    _settle(group)
    lean, plain = await _clients(group.url)
    key, other = "{areshard}a", "{areshard}b"
    slot = key_slot(key.encode())
    assert await lean.set(key, "1") is True
    source = _server(group, lean.get_node_from_key(key).port)
    target = next(p for p in group.primaries if p is not source)
    with migrating(group, key, source, target) as dst_id:
        # Mid-migration the source answers ASK: the key is read, and a new key written, on
        # the target after an ASKING.
        node_sends.clear()
        assert await lean.get(key) == await plain.get(key) == b"1"
        assert await lean.set(other, "2") is True
        assert (target.port, "ASKING") in node_sends
    with _node(target) as dst:
        assert dst.get(other) == "2"
    # The slot moved: MOVED is followed without an error; the next command goes straight there.
    assert await lean.get(key) == b"1"
    assert lean.nodes_manager.slots_cache[slot][0].port == target.port
    node_sends.clear()
    assert await lean.get(other) == b"2"
    assert node_sends == [(target.port, "GET")]

    replica = next(s for s in group.cluster_replicas if _primary_of(s) == dst_id)
    with _node(replica) as node:
        node.execute_command("CLUSTER FAILOVER")
    with _node(target) as node:
        await _wait_for(lambda: node.execute_command("ROLE")[0] == "slave", "the manual failover", 20)
    assert await lean.get(key) == b"1"
    assert await lean.incr("{areshard}n") == 1
    assert lean.nodes_manager.slots_cache[slot][0].port == replica.port
    await lean.aclose()
    await plain.aclose()


@pytest.mark.slow
async def test_a_paused_node_costs_as_many_socket_timeouts_and_executions_as_redis_py(redis_factory: Any) -> None:
    # The node stops answering (SIGSTOP): each attempt's read or reconnect times out. The lean
    # client makes redis-py's 1 + RETRIES attempts, no more, and INCR runs once.
    group = redis_factory("cluster", node_timeout_ms=60_000)  # no failover while paused
    _settle(group)
    timeout = 0.4
    for retries in (0, 1, 2):
        lean, plain = await _clients(group.url, SOCKET_TIMEOUT=timeout, RETRIES=retries)
        results = {}
        for name, client in (("lean", lean), ("plain", plain)):
            key = f"{{apaused}}:{name}:{retries}"
            assert await client.get(key) is None  # connected
            server = _server(group, client.get_node_from_key(key).port)
            server.pause()
            try:
                started = time.monotonic()
                with pytest.raises(redis.TimeoutError):
                    await client.incr(key)
                took = time.monotonic() - started
            finally:
                server.resume()
            with _node(server) as node:
                await _wait_for(lambda node=node, key=key: node.get(key) is not None, "the queued INCR", 20)
                await asyncio.sleep(0.2)
                executions = int(node.get(key))
            results[name] = (int(took / timeout), executions)
        assert results["lean"] == results["plain"], (retries, results)
        assert results["lean"][1] == 1, results
        await lean.aclose()
        await plain.aclose()
