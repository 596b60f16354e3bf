"""The lean Cluster client (``LeanRedisCluster``) against real Clusters: the same replies as
redis-py's ``RedisCluster`` for every command of its table, keys on their slot's primary,
redis-py's own handling (and retry accounting) for cross-slot scripts, resharding, failover
and a paused node."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.cluster
from django.test import override_settings
from redis.crc import key_slot

from django_redis_patterns import get_redis
from django_redis_patterns.client import connections
from django_redis_patterns.client.leanclient import LeanRedis
from django_redis_patterns.client.leancluster import LEAN_COMMANDS, LeanRedisCluster
from tests.core.lean import requires_lean
from tests.core.test_leanclient import assert_threads_never_cross_replies

pytestmark = requires_lean("cluster")

OURS = "django_redis_patterns.cache.RedisCache"


def _clients(url: str, **options: Any) -> tuple[Any, Any]:
    """(lean, plain) clients for one Cluster, built by the connection layer as an alias would be."""
    lean = connections.client_for_spec(connections.parse(url, options))
    plain = connections.client_for_spec(connections.parse(url, {**options, "LEAN_CLIENT": False}))
    assert type(lean) is LeanRedisCluster
    assert type(plain) is redis.cluster.RedisCluster
    return lean, plain


@pytest.fixture
def redis_py_sends(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the commands that went through redis-py's per-node send (its slow path).

    Counts calls, changes nothing: every call runs redis-py's own method.
    """
    sends: list[str] = []
    original = redis.cluster.RedisCluster._execute_command

    def counting(self: Any, target_node: Any, *args: Any, **kwargs: Any) -> Any:
        sends.append(str(args[0]))
        return original(self, target_node, *args, **kwargs)

    monkeypatch.setattr(redis.cluster.RedisCluster, "_execute_command", counting)
    return sends


@pytest.fixture
def lean_sends(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the commands the lean path sent (counts, changes nothing)."""
    sends: list[str] = []
    original = LeanRedis.execute_command

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        sends.append(str(args[0]))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LeanRedis, "execute_command", counting)
    return sends


def _keys_in_many_slots(prefix: str, count: int) -> list[str]:
    """``count`` keys whose slots are spread evenly over the 16384 (so over every primary)."""
    step = 16384 // count
    found: dict[int, str] = {}
    i = 0
    while len(found) < count:
        key = f"{prefix}:{i}"
        found.setdefault(key_slot(key.encode()) // step, key)
        i += 1
    return [found[b] for b in sorted(found) if b < count]


def _reply(call: Any) -> Any:
    try:
        return call()
    except redis.RedisError as exc:  # an error reply is a reply too: same type, same text
        return ("error", type(exc).__name__, str(exc))


SCRIPT = "return {KEYS[1], ARGV[1], #KEYS}"


def table_calls(client: Any, key: str, sha: str) -> list[Any]:
    """Every command of the lean table (and its usual options) on ``key``'s slot, as calls.

    Each call returns the client's reply (a coroutine on an asyncio client); a PTTL reply is
    wrapped in :class:`Rounded`: a few ms of difference are not a different reply.
    """
    h, z, n, s = f"{{{key}}}:h", f"{{{key}}}:z", f"{{{key}}}:n", f"{{{key}}}:s"
    far_ms = int(time.time() * 1000) + 10_000_000
    calls: list[Any] = [
        lambda: client.set(key, "v"),
        lambda: client.get(key),
        lambda: client.get(key.encode()),  # bytes key, same slot
        lambda: client.set(key, "v2", px=100_000, get=True),
        lambda: client.set(key, "x", nx=True),
        lambda: client.getdel(key),
        lambda: client.get(key),
        lambda: client.incr(n),
        lambda: client.incrby(n, 5),
        lambda: client.decr(n),
        lambda: client.decrby(n, 2),
        lambda: client.execute_command("INCR", n),  # redis-py's incr()/decr() send INCRBY/DECRBY
        lambda: client.execute_command("DECR", n),
        lambda: client.get(n),
        lambda: client.expire(n, 1000),
        lambda: client.ttl(n),
        lambda: client.pexpire(n, 1_000_000),
        lambda: Rounded(client.pttl(n)),
        lambda: client.persist(n),
        lambda: client.ttl(n),
        lambda: client.pttl(n),
        lambda: client.pexpireat(n, far_ms),
        lambda: client.expireat(n, far_ms // 1000),
        lambda: client.persist(n),
        lambda: client.ttl(f"{{{key}}}:missing"),
        lambda: client.pttl(f"{{{key}}}:missing"),
        lambda: client.exists(n),
        lambda: client.touch(n),
        lambda: client.unlink(n),
        lambda: client.exists(n),
        lambda: client.delete(f"{{{key}}}:missing"),
        lambda: client.zadd(z, {"a": 1, "b": 2.5, "c": 3}),
        lambda: client.zadd(z, {"a": 5}, xx=True, ch=True),
        lambda: client.zincrby(z, 1.5, "b"),
        lambda: client.zscore(z, "b"),
        lambda: client.zscore(z, "nope"),
        lambda: client.zrank(z, "a"),
        lambda: client.zrevrank(z, "a"),
        lambda: client.zrank(z, "nope"),
        lambda: client.zcard(z),
        lambda: client.zcount(z, 2, "+inf"),
        lambda: client.zrange(z, 0, -1),
        lambda: client.zrange(z, 0, -1, withscores=True),
        lambda: client.zrange(z, 0, -1, desc=True, withscores=True, score_cast_func=int),
        lambda: client.zrevrange(z, 0, 1, withscores=True),
        lambda: client.zrem(z, "a", "nope"),
        lambda: client.hset(h, "f", "1"),
        lambda: client.hset(h, mapping={"g": "2", "x": "3"}),
        lambda: client.hget(h, "f"),
        lambda: client.hget(h, "nope"),
        lambda: client.hgetall(h),
        lambda: client.hdel(h, "f", "nope"),
        lambda: client.hgetall(h),
        lambda: client.eval(SCRIPT, 1, key, "a"),
        lambda: client.evalsha(sha, 2, key, h, "b"),  # two keys, one slot (hash tag)
        lambda: client.execute_command("EVALSHA", sha, "1", key, "c"),  # numkeys as a string
        # Error replies.
        lambda: client.set(s, "text"),
        lambda: client.incr(s),
        lambda: client.hget(s, "f"),
        lambda: client.zadd(s, {"a": 1}),
        lambda: client.evalsha("0" * 40, 1, key),
        lambda: client.delete(key),
        lambda: client.delete(s),
        lambda: client.delete(z),
        lambda: client.delete(h),
    ]
    return calls


class Rounded:
    """A PTTL reply to be compared in units of 10 s."""

    def __init__(self, reply: Any):
        self.reply = reply

    @staticmethod
    def round(value: Any) -> Any:
        return (value + 5_000) // 10_000 if isinstance(value, int) else value


def _exercise(client: Any, key: str, sha: str) -> list[Any]:
    replies = []
    for call in table_calls(client, key, sha):
        reply = _reply(call)
        replies.append(Rounded.round(reply.reply) if isinstance(reply, Rounded) else reply)
    return replies


def test_replies_match_redis_py_for_every_table_command_in_every_slot_range(
    cluster: Any, redis_py_sends: list[str], lean_sends: list[str]
) -> None:
    lean, plain = _clients(cluster.url)
    sha = plain.script_load(SCRIPT)
    keys = _keys_in_many_slots("lean-replies", 48)
    assert len({lean.get_node_from_key(k).name for k in keys}) == len(cluster.primaries)
    for key in keys:
        redis_py_sends.clear()
        got = _exercise(lean, key, sha)
        assert redis_py_sends == [], f"lean client used redis-py's path for {redis_py_sends}"
        expected = _exercise(plain, key, sha)
        assert redis_py_sends, "the counter sees redis-py's path"
        assert got == expected, key
    assert set(lean_sends) == set(LEAN_COMMANDS)  # every table command took the lean path
    # Integer keys are encoded (and so routed) exactly as redis-py encodes them.
    for number in (0, 7, 12345, 987654321):
        redis_py_sends.clear()
        assert lean.set(number, "int") is True
        assert plain.get(number) == b"int"
        assert lean.get(str(number)) == b"int"
        assert lean.delete(number) == 1
        assert redis_py_sends == ["GET"]  # only the plain client's read
    assert set(lean._lean_commands) == set(LEAN_COMMANDS)


def test_fast_path_writes_land_on_the_primary_that_owns_the_slot(cluster: Any, redis_py_sends: list[str]) -> None:
    lean, _ = _clients(cluster.url)
    redis_py_sends.clear()  # building a client sends COMMAND through redis-py
    keys = _keys_in_many_slots("lean-owner", 200)
    for key in keys:
        assert lean.set(key, key_slot(key.encode())) is True
    assert redis_py_sends == []
    owners: dict[int, int] = {}
    with contextlib.closing(cluster.primaries[0].client()) as any_node:
        for start, end, primary, *_ in any_node.execute_command("CLUSTER SLOTS"):
            for slot in range(int(start), int(end) + 1):
                owners[slot] = int(primary[1])
    nodes = {p.port: p.client() for p in cluster.primaries}
    try:
        for key in keys:
            slot = key_slot(key.encode())
            assert nodes[owners[slot]].get(key) == str(slot).encode(), key
            for port, node in nodes.items():
                if port != owners[slot]:
                    with pytest.raises(redis.exceptions.MovedError):
                        node.get(key)  # not here: the node redirects
    finally:
        for node in nodes.values():
            node.close()
    assert lean.delete(*keys) == len(keys)


def test_scripts_over_two_slots_fall_back_and_fail_exactly_like_redis_py(
    cluster: Any, redis_py_sends: list[str]
) -> None:
    lean, plain = _clients(cluster.url)
    sha = plain.script_load(SCRIPT)
    a, b = "lean-script-a", "lean-script-b"
    assert key_slot(a.encode()) != key_slot(b.encode())
    for command, script in (("EVALSHA", sha), ("EVAL", SCRIPT)):
        errors = []
        for client in (lean, plain):
            with pytest.raises(redis.exceptions.RedisClusterException) as info:
                client.execute_command(command, script, 2, a, b, "x")
            errors.append((type(info.value), str(info.value)))
        assert errors[0] == errors[1]
        assert "same key slot" in errors[0][1]
    # A key-less script and a call with target_nodes are redis-py's too (and still work).
    redis_py_sends.clear()
    assert lean.eval("return 1", 0) == plain.eval("return 1", 0) == 1
    assert redis_py_sends == ["EVAL", "EVAL"]
    redis_py_sends.clear()
    node = lean.get_node_from_key(a)
    assert lean.execute_command("GET", a, target_nodes=node) is None
    assert redis_py_sends == ["GET"]


def test_threads_never_read_each_others_replies(cluster: Any) -> None:
    lean, _ = _clients(cluster.url)
    assert_threads_never_cross_replies(lean, "lean-threads", rounds=200)


def test_a_node_whose_pool_is_replaced_gets_a_new_lean_client(cluster: Any, redis_py_sends: list[str]) -> None:
    lean, _ = _clients(cluster.url)
    key = "lean-pool"
    lean.set(key, "1")
    redis_py_sends.clear()
    node = lean.get_node_from_key(key)
    before = lean._lean_nodes[node.name]
    idle = before._lean_free[0]
    # What redis-py's topology refresh does for a node it did not know: a new Redis, a new pool.
    node.redis_connection = None
    lean.nodes_manager.create_redis_connections([node])
    assert lean.get(key) == b"1"
    after = lean._lean_nodes[node.name]
    assert isinstance(after, LeanRedis) and after is not before
    assert after.connection_pool is node.redis_connection.connection_pool
    assert idle._sock is None  # the old client's idle connection was closed
    assert redis_py_sends == []
    lean.delete(key)


def test_lean_client_option_and_replica_reads(cluster: Any, redis_py_sends: list[str]) -> None:
    alias = {"BACKEND": OURS, "LOCATION": cluster.url}
    with override_settings(CACHES={"default": alias}):
        assert type(get_redis()) is LeanRedisCluster
    with override_settings(CACHES={"default": {**alias, "OPTIONS": {"LEAN_CLIENT": False}}}):
        assert type(get_redis()) is redis.cluster.RedisCluster
    with override_settings(CACHES={"default": {**alias, "OPTIONS": {"READ_FROM_REPLICAS": True}}}):
        client = get_redis()
        assert type(client) is LeanRedisCluster
        assert client.load_balancing_strategy is not None
        assert client._lean_commands == {}  # replica reads: every command is redis-py's
        client.set("{lean-r}x", "1")
        client.wait(1, 2000, target_nodes=client.get_node_from_key("{lean-r}x"))
        assert client.get("{lean-r}x") == b"1"
        assert "GET" in redis_py_sends
        client.delete("{lean-r}x")


# --- topology changes and failures, on throw-away Clusters ------------------------------


def _settle(group: Any) -> None:
    from tests.cache.conftest import settle_cluster

    settle_cluster(group)


def _server(group: Any, port: int) -> Any:
    return next(s for s in group.servers if s.port == port)


@contextlib.contextmanager
def _node(server: Any) -> Iterator[Any]:
    with contextlib.closing(server.client(decode_responses=True)) as client:
        yield client


def _wait(predicate: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@contextlib.contextmanager
def migrating(group: Any, key: str, source: Any, target: Any) -> Iterator[str]:
    """Move ``key``'s slot from ``source`` to ``target`` by the resharding procedure, key first.

    Inside the block the slot is mid-migration (the key already moved: its old owner answers
    ASK); on leaving, every primary assigns the slot to ``target`` (the target first, as the
    procedure says), so the old owner answers MOVED. Yields the target's node id.
    """
    slot = key_slot(key.encode())
    with _node(source) as src, _node(target) as dst:
        src_id, dst_id = src.execute_command("CLUSTER MYID"), dst.execute_command("CLUSTER MYID")
        dst.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", src_id)
        src.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", dst_id)
        src.migrate("127.0.0.1", target.port, [key], 0, 5000)
    yield dst_id
    for server in sorted(group.primaries, key=lambda server: server is not target):
        with _node(server) as node:
            node.execute_command("CLUSTER SETSLOT", slot, "NODE", dst_id)


@pytest.mark.slow
def test_resharding_and_a_manual_failover_are_followed_like_redis_py(
    redis_factory: Any, redis_py_sends: list[str]
) -> None:
    group = redis_factory("cluster")
    _settle(group)
    lean, plain = _clients(group.url)
    key, other = "{reshard}a", "{reshard}b"
    slot = key_slot(key.encode())
    assert lean.set(key, "1") is True
    source = _server(group, lean.get_node_from_key(key).port)
    target = next(p for p in group.primaries if p is not source)
    with migrating(group, key, source, target) as dst_id:
        # Mid-migration: the source answers ASK for the moved key (and for a new one).
        redis_py_sends.clear()
        assert lean.get(key) == plain.get(key) == b"1"
        assert lean.set(other, "2") is True
        assert redis_py_sends.count("GET") == 2 and redis_py_sends.count("SET") == 1
    with _node(target) as dst:
        assert dst.get(other) == "2"  # the ASK-redirected write landed on the new owner
    # The slot moved: the old owner answers MOVED; no error reaches the caller, and the
    # very next command takes the fast path to the new owner.
    redis_py_sends.clear()
    assert lean.get(key) == b"1"
    assert redis_py_sends == ["GET"]
    assert lean.nodes_manager.slots_cache[slot][0].port == target.port
    redis_py_sends.clear()
    assert lean.get(other) == b"2"
    assert lean.incr("{reshard}n") == 1
    assert redis_py_sends == []
    assert plain.get(key) == b"1"

    # A manual failover of the slot's owner: its replica takes over, the old primary
    # answers MOVED, and the lean client follows it without an error.
    replica = next(s for s in group.cluster_replicas if _primary_of(s) == dst_id)
    with _node(replica) as node:
        node.execute_command("CLUSTER FAILOVER")
    with _node(target) as node:
        _wait(lambda: node.execute_command("ROLE")[0] == "slave", "the manual failover")
    redis_py_sends.clear()
    assert lean.get(key) == b"1"
    assert lean.incr("{reshard}n") == 2
    assert lean.nodes_manager.slots_cache[slot][0].port == replica.port
    assert redis_py_sends == ["GET"]
    assert plain.get(key) == b"1"


def _primary_of(server: Any) -> str:
    """The node id a Cluster replica replicates (from its own CLUSTER NODES line)."""
    with _node(server) as node:
        for info in node.execute_command("CLUSTER NODES").values():
            if "myself" in info["flags"]:
                return str(info["master_id"])
    raise AssertionError(f"{server.address} does not list itself")


@pytest.mark.slow
def test_a_paused_node_costs_as_many_socket_timeouts_and_executions_as_redis_py(redis_factory: Any) -> None:
    # A node that stops answering (SIGSTOP): the first attempt's read times out, and each
    # retry's reconnect times out in its handshake. The lean attempt must be one of
    # redis-py's 1 + RETRIES attempts, not an extra one before them.
    group = redis_factory("cluster", node_timeout_ms=60_000)  # no failover while paused
    _settle(group)
    timeout = 0.4
    for retries in (0, 1, 2):
        lean, plain = _clients(group.url, SOCKET_TIMEOUT=timeout, RETRIES=retries)
        results = {}
        for name, client in (("lean", lean), ("plain", plain)):
            key = f"{{paused}}:{name}:{retries}"
            assert client.get(key) is None  # connected
            server = _server(group, client.get_node_from_key(key).port)
            server.pause()
            try:
                started = time.monotonic()
                with pytest.raises(redis.TimeoutError):
                    client.incr(key)
                took = time.monotonic() - started
            finally:
                server.resume()
            # INCR's first send reached the paused server, which runs it on waking up: a
            # lost reply is not a command that did not run. Count the executions.
            with _node(server) as node:
                _wait(lambda node=node, key=key: node.get(key) is not None, "the queued INCR")
                time.sleep(0.2)
                executions = int(node.get(key))
            results[name] = (int(took / timeout), executions)
            assert (1 + retries) * timeout * 0.95 <= took < (2 + retries) * timeout, (name, retries, took)
        assert results["lean"] == results["plain"] == (1 + retries, 1), (retries, results)


@pytest.mark.slow
def test_after_a_primary_dies_the_client_recovers_within_redis_pys_bound(
    redis_factory: Any, redis_py_sends: list[str]
) -> None:
    group = redis_factory("cluster")
    _settle(group)
    lean, plain = _clients(group.url, SOCKET_TIMEOUT=0.5)
    keys = {"lean": "{dies}:lean", "plain": "{dies}:plain"}
    clients = {"lean": lean, "plain": plain}
    for name, client in clients.items():
        assert client.set(keys[name], "before") is True
    dead = _server(group, lean.get_node_from_key(keys["lean"]).port)
    with _node(dead) as node:  # the replica has both writes before its primary dies

        def replicated() -> bool:
            info = node.info("replication")
            return bool(info.get("slave0")) and int(info["slave0"]["offset"]) >= int(info["master_repl_offset"])

        _wait(replicated, "the replica to catch up")
    dead.kill()
    started = time.monotonic()
    recovered: dict[str, float] = {}
    errors: dict[str, list[str]] = {"lean": [], "plain": []}
    while len(recovered) < 2 and time.monotonic() - started < 30:
        for name, client in clients.items():
            if name in recovered:
                continue
            try:
                if client.get(keys[name]) == b"before" and client.set(keys[name], "before") is True:
                    recovered[name] = time.monotonic() - started
            except (redis.RedisError, redis.exceptions.RedisClusterException) as exc:
                errors[name].append(type(exc).__name__)
        time.sleep(0.05)
    assert set(recovered) == {"lean", "plain"}, (recovered, {k: v[-3:] for k, v in errors.items()})
    # Both wait for the same Cluster failover; the lean client is back no later than
    # redis-py's (a probe loop's round of slack), and takes its fast path on the new primary.
    assert recovered["lean"] <= recovered["plain"] + 1.0, recovered
    redis_py_sends.clear()
    assert lean.get(keys["lean"]) == b"before"
    assert redis_py_sends == []
    assert lean.get_node_from_key(keys["lean"]).port != dead.port
