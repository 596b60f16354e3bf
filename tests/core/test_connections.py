"""The connection layer against real servers: every scheme, TLS/ACL, async, failover, Cluster."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from typing import Any

import pytest
import redis
import redis.asyncio
import redis.asyncio.cluster
from django.test import override_settings
from redis.crc import key_slot

from django_redis_patterns import aget_redis, get_redis
from django_redis_patterns.client import connections
from django_redis_patterns.exceptions import ImproperlyConfigured
from tests.topologies import all_topologies

OURS = "django_redis_patterns.cache.RedisCache"


def caches(**aliases: Any) -> dict[str, Any]:
    return {
        alias: {"BACKEND": OURS, "LOCATION": loc} if isinstance(loc, str | list) else loc
        for alias, loc in aliases.items()
    }


@all_topologies
def test_each_topology_round_trips(topology: Any) -> None:
    client = get_redis()
    assert client.set("drp:round-trip", "yes")
    assert client.get("drp:round-trip") == b"yes"
    assert connections.topology_of() == topology.kind


@all_topologies
async def test_async_client_round_trips(topology: Any) -> None:
    client = await aget_redis()
    assert await client.set("drp:async", "1")
    assert await client.get("drp:async") == b"1"


def test_unix_socket(redis_factory: Any, tmp_path: Any) -> None:
    sock = tmp_path / "r.sock"
    group = redis_factory("standalone", args=["--unixsocket", str(sock), "--unixsocketperm", "700"])
    with override_settings(CACHES=caches(default=f"unix://{sock}?db=3")):
        client = get_redis()
        client.set("via-unix", "ok")
        assert client.connection_pool.connection_kwargs["db"] == 3
    assert group.primary.client(db=3).get("via-unix") == b"ok"


def test_location_list_reads_from_replica(redis_factory: Any) -> None:
    group = redis_factory("standalone", replicas=1)
    with override_settings(CACHES=caches(default=group.location)):
        primary = get_redis()
        replica = get_redis(replica=True)
        assert primary is not replica
        assert replica.connection_pool.connection_kwargs["port"] == group.replicas[0].port
        primary.set("replicated", "1")
        primary.wait(1, 2000)
        assert replica.get("replicated") == b"1"
        with pytest.raises(redis.ReadOnlyError):
            replica.set("x", "1")


def test_tls_and_acl(tls_server: Any) -> None:
    opts = {"SSL_CA_CERTS": str(tls_server.ca)}
    with override_settings(CACHES={"default": {"BACKEND": OURS, "LOCATION": tls_server.url, "OPTIONS": opts}}):
        client = get_redis()
        assert client.set("tls", "1") and client.get("tls") == b"1"
        assert client.acl_whoami() in ("app", b"app")
    # Client certificate (mutual TLS) through the same options.
    mtls = {**opts, "SSL_CERTFILE": str(tls_server.client_cert), "SSL_KEYFILE": str(tls_server.client_key)}
    with override_settings(CACHES={"default": {"BACKEND": OURS, "LOCATION": tls_server.url, "OPTIONS": mtls}}):
        assert get_redis().ping()
    # Plain port, ACL user given in OPTIONS rather than the URL.
    plain = f"redis://127.0.0.1:{tls_server.server.port}/0"
    acl = {"USERNAME": "app", "PASSWORD": "s3cret-pw"}
    with override_settings(CACHES={"default": {"BACKEND": OURS, "LOCATION": plain, "OPTIONS": acl}}):
        assert get_redis().acl_whoami() in ("app", b"app")


def test_wrong_password_is_a_clear_error(tls_server: Any) -> None:
    wrong = f"redis://app:nope@127.0.0.1:{tls_server.server.port}/0"
    with override_settings(CACHES=caches(default=wrong)):
        started = time.monotonic()
        with pytest.raises(redis.AuthenticationError, match="invalid username-password pair"):
            get_redis().ping()
        assert time.monotonic() - started < 5


def test_tls_without_ca_is_refused(tls_server: Any) -> None:
    with override_settings(CACHES=caches(default=tls_server.url)):
        with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
            get_redis().ping()


def test_unreachable_server_fails_within_timeouts() -> None:
    # Port 1 refuses at once; the retry policy allows one retry, never a long loop.
    with override_settings(CACHES=caches(default="redis://127.0.0.1:1/0")):
        started = time.monotonic()
        with pytest.raises(redis.ConnectionError):
            get_redis().ping()
        assert time.monotonic() - started < 3


@pytest.mark.parametrize("flavor", ["sync", "async"])
@pytest.mark.parametrize("cooldown, tries", [(0, 2), (2.0, 1)], ids=["breaker-off", "breaker-on"])
def test_a_new_connection_to_a_silent_server_gives_up_after_one_socket_timeout_per_try(
    redis_factory: Any, flavor: str, cooldown: float, tries: int
) -> None:
    # A paused server accepts TCP connections and never answers. A new connection's handshake
    # times out once per try (RETRIES=1: two tries; with the circuit breaker on a timeout is not
    # retried: one). redis-py's own health-check PING before the handshake, with its own retry,
    # used to double that to four socket timeouts.
    group = redis_factory("standalone")
    timeout = 1.0
    options = {"SOCKET_TIMEOUT": timeout, "RETRIES": 1, "CIRCUIT_BREAKER_COOLDOWN": cooldown}
    alias = {"BACKEND": OURS, "LOCATION": group.url, "OPTIONS": options}
    with override_settings(CACHES=caches(default=alias)):
        connections.reset()
        group.servers[0].pause()
        try:
            started = time.monotonic()
            with pytest.raises(redis.TimeoutError):
                if flavor == "sync":
                    get_redis().get("k")
                else:

                    async def first_call() -> None:
                        await (await aget_redis()).get("k")

                    asyncio.run(first_call())
            took = time.monotonic() - started
        finally:
            group.servers[0].resume()
            connections.reset()
    if int(redis.__version__.split(".")[0]) < 7:
        tries = 1  # redis-py 6 and older do not retry a failed handshake: they give up even sooner
    # `tries` timeouts + back-off (<= 0.2 s) + slack; the old behaviour took 4 timeouts.
    assert tries * timeout * 0.9 <= took < (tries + 1) * timeout, f"gave up after {took:.2f}s"


def test_pool_is_shared_across_threads(topology: Any) -> None:
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        clients = list(pool.map(lambda _: get_redis(), range(32)))
    assert len({id(c) for c in clients}) == 1


def test_concurrent_first_use_builds_one_pool(topology: Any) -> None:
    barrier = threading.Barrier(8)
    seen: list[int] = []

    def first_use() -> None:
        barrier.wait()
        seen.append(id(get_redis()))

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 1


def test_two_aliases_same_url_different_options_do_not_share(topology: Any) -> None:
    url = topology.url
    config = {
        "a": {"BACKEND": OURS, "LOCATION": url, "OPTIONS": {"SOCKET_TIMEOUT": 9, "MAX_CONNECTIONS": 50}},
        "b": {"BACKEND": OURS, "LOCATION": url, "OPTIONS": {"SOCKET_TIMEOUT": 3, "MAX_CONNECTIONS": 3}},
    }
    with override_settings(CACHES=config):
        a, b = get_redis("a"), get_redis("b")
        assert a is not b and a.connection_pool is not b.connection_pool
        assert a.connection_pool.connection_kwargs["socket_timeout"] == 9
        assert b.connection_pool.connection_kwargs["socket_timeout"] == 3
        assert a.connection_pool.max_connections == 50
        assert b.connection_pool.max_connections == 3


def test_default_timeouts_and_retry(topology: Any) -> None:
    kwargs = get_redis().connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == connections.DEFAULT_SOCKET_TIMEOUT
    assert kwargs["socket_connect_timeout"] == connections.DEFAULT_SOCKET_CONNECT_TIMEOUT
    retry = kwargs["retry"]
    assert getattr(retry, "get_retries", lambda: retry._retries)() == connections.DEFAULT_RETRIES  # redis-py < 6


def test_django_redis_and_builtin_aliases(standalone_server: Any) -> None:
    url = standalone_server.url
    config = {
        "dr": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"SOCKET_TIMEOUT": 4, "CLIENT_CLASS": "django_redis.client.DefaultClient"},
        },
        "dj": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_timeout": 5, "db": 2},
        },
    }
    with override_settings(CACHES=config):
        dr, dj = get_redis("dr"), get_redis("dj")
        assert dr.connection_pool.connection_kwargs["socket_timeout"] == 4
        assert dj.connection_pool.connection_kwargs["socket_timeout"] == 5
        assert dj.connection_pool.connection_kwargs["db"] == 2
        dr.set("k", "dr")
        dj.set("k", "dj")
        assert standalone_server.primary.client(db=0).get("k") == b"dr"
        assert standalone_server.primary.client(db=2).get("k") == b"dj"


def test_unknown_and_non_redis_alias_errors() -> None:
    config = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with override_settings(CACHES=config):
        with pytest.raises(ImproperlyConfigured, match="'nope' is not in CACHES"):
            get_redis("nope")
        with pytest.raises(ImproperlyConfigured, match="not a Redis backend"):
            get_redis("default")


@all_topologies
async def test_200_async_calls_in_gather_without_thread_hop(topology: Any) -> None:
    loop = asyncio.get_running_loop()

    class NoThreads(concurrent.futures.ThreadPoolExecutor):
        def submit(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("a Redis call hopped to a thread")

    loop.set_default_executor(NoThreads())
    threads_before = threading.active_count()
    client = await aget_redis()
    assert isinstance(client, redis.asyncio.Redis | redis.asyncio.cluster.RedisCluster)
    await client.set("drp:gather", "v")
    results = await asyncio.gather(*(client.get("drp:gather") for _ in range(200)))
    assert results == [b"v"] * 200
    assert await aget_redis() is client
    assert threading.active_count() == threads_before


def test_two_event_loops_in_sequence_get_their_own_client(topology: Any) -> None:
    async def use() -> int:
        client = await aget_redis()
        await client.set("loop", "x")
        assert await client.get("loop") == b"x"
        return id(client)

    first_client: list[Any] = []

    async def keep() -> None:
        first_client.append(await aget_redis())
        await first_client[0].ping()

    asyncio.run(keep())
    second = asyncio.run(use())
    assert id(first_client[0]) != second


def test_sentinel_failover_same_client_writes_again(redis_factory: Any) -> None:
    group = redis_factory("sentinel", replicas=1, down_after_ms=1000, failover_timeout_ms=3000)
    with override_settings(CACHES=caches(default=group.url)):
        client = get_redis()
        client.set("before", "1")
        assert client.wait(1, 2000) == 1  # replication is asynchronous: wait for the replica's ack
        old = group.current_primary()
        old.kill()
        killed_at = time.monotonic()
        written = False
        while time.monotonic() - killed_at < 15:
            try:
                client.set("after", "1")
                written = True
                break
            except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError):
                time.sleep(0.2)
        assert written, "no write accepted within 15 s of the primary's death"
        assert group.current_primary() is not old
        assert client.get("before") == b"1"


def test_sentinel_auth_separate_from_data_auth(redis_factory: Any) -> None:
    # Data nodes need user app/data-pw; the Sentinels need their own password.
    group = redis_factory(
        "sentinel", replicas=0, sentinels=1, data_auth=("app", "data-pw"), sentinel_password="sent-pw"
    )
    url = group.url.replace("redis+sentinel://", "redis+sentinel://app:data-pw@")
    opts = {"SENTINEL_PASSWORD": "sent-pw"}
    with override_settings(CACHES={"default": {"BACKEND": OURS, "LOCATION": url, "OPTIONS": opts}}):
        client = get_redis()
        client.set("auth", "1")
        assert client.acl_whoami() in ("app", b"app")
    with override_settings(CACHES=caches(default=url)):
        with pytest.raises(redis.RedisError):
            get_redis().ping()


def test_cluster_reads_and_writes_every_slot(cluster: Any, settings: Any) -> None:
    settings.CACHES = caches(default=cluster.url)
    keys: dict[int, str] = {}
    i = 0
    while len(keys) < 16384:
        k = f"slot-key:{i}"
        keys.setdefault(key_slot(k.encode()), k)
        i += 1
    client = get_redis()
    assert connections.is_cluster(client)
    pipe = client.pipeline(transaction=False)
    for slot, k in keys.items():
        pipe.set(k, slot)
    pipe.execute()
    values = client.mget_nonatomic(list(keys.values()))
    assert [int(v) for v in values] == list(keys)
    assert client.delete(*keys.values()) == 16384


def test_cluster_replica_reads(cluster: Any) -> None:
    url = cluster.url + "?read_from_replicas=true"
    with override_settings(CACHES=caches(default=url)):
        client = get_redis()
        # redis-py >= 6 spells it as a load-balancing strategy, older ones as a flag
        assert getattr(client, "load_balancing_strategy", None) is not None or client.read_from_replicas
        client.set("{r}x", "1")
        client.wait(1, 2000, target_nodes=client.get_node_from_key("{r}x"))
        assert client.get("{r}x") == b"1"
