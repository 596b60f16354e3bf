"""Lean clients poll briefly for a reply before sleeping in ``recv`` (``OPTIONS["SPIN_WAIT_US"]``):
on by default, off with 0, same replies on every topology, and a run of slow replies stops the
polling for a while."""

from __future__ import annotations

import io
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.core.management import call_command
from django.test import override_settings

from django_redis_patterns import get_redis
from django_redis_patterns.client import spin
from django_redis_patterns.client.leanclient import LeanRedis
from django_redis_patterns.client.leancluster import LeanRedisCluster
from django_redis_patterns.exceptions import ImproperlyConfigured
from tests.core.lean import requires_lean
from tests.core.test_leanclient import assert_threads_never_cross_replies

OURS = "django_redis_patterns.cache.RedisCache"


def _alias(location: str, **options: Any) -> dict[str, Any]:
    return {"default": {"BACKEND": OURS, "LOCATION": location, "OPTIONS": options}}


def _status() -> str:
    out = io.StringIO()
    call_command("redis_status", stdout=out)
    return out.getvalue()


def test_lean_clients_poll_by_default_and_the_option_sets_the_budget(standalone_server: Any) -> None:
    with override_settings(CACHES=_alias(standalone_server.url)):
        assert "  reply wait: polls up to 50 µs, then sleeps" in _status()
        client = get_redis()
        assert isinstance(client, LeanRedis)
        assert client._spinner is not None
        assert client._spinner.budget_ns == spin.DEFAULT_SPIN_WAIT_US * 1000 == 50_000
        polls = client._spinner.polls  # redis_status's own commands polled too
        client.set("spin:k", "v")
        assert client.get("spin:k") == b"v"
        assert client._spinner.polls == polls + 2  # one wait per command
    with override_settings(CACHES=_alias(standalone_server.url, SPIN_WAIT_US=200)):
        client = get_redis()
        assert client._spinner is not None and client._spinner.budget_ns == 200_000
    with override_settings(CACHES=_alias(standalone_server.url, SPIN_WAIT_US=0)):
        assert "  reply wait: sleeps at once (OPTIONS['SPIN_WAIT_US'] = 0)" in _status()
        client = get_redis()
        assert client._spinner is None
        assert client.get("spin:k") == b"v"
    with override_settings(CACHES=_alias(standalone_server.url, LEAN_CLIENT=False)):
        assert type(get_redis()) is redis.Redis  # redis-py's own read: never polls
        assert "reply wait" not in _status()


@pytest.mark.parametrize("value", [-1, 1001, 2.5, True, "50", None])
def test_a_bad_budget_names_the_option(standalone_server: Any, value: Any) -> None:
    with override_settings(CACHES=_alias(standalone_server.url, SPIN_WAIT_US=value)):
        with pytest.raises(ImproperlyConfigured, match=r"\['SPIN_WAIT_US'\] must be an int from 0 to 1000"):
            get_redis()


@pytest.fixture
def polling(standalone_server: Any) -> Iterator[Any]:
    """The default alias's lean client, polling with the default budget."""
    with override_settings(CACHES=_alias(standalone_server.url)):
        client = get_redis()
        assert client._spinner is not None
        yield client


def test_threads_never_read_each_others_replies_while_polling(polling: Any) -> None:
    assert_threads_never_cross_replies(polling, "spin")


def test_a_command_does_not_poll_while_another_thread_waits_on_the_client(polling: Any) -> None:
    # Another thread's command in flight keeps the vCPU awake, and polling would hold the GIL
    # that thread needs.
    client, spinner = polling, polling._spinner
    client.delete("spin:idle")
    blocked = threading.Thread(target=client.blpop, args=(["spin:idle"],), kwargs={"timeout": 1})
    blocked.start()
    try:
        deadline = time.monotonic() + 0.9
        while client._lean_made - len(client._lean_free) < 1 and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.05)  # its own 50 µs of polling are long over
        polls, waits = spinner.polls, spinner.waits
        for _ in range(10):
            assert client.get("spin:idle") is None
        assert (spinner.polls, spinner.waits) == (polls, waits)
        assert blocked.is_alive()  # still in flight the whole time
    finally:
        blocked.join()
    assert client.get("spin:idle") is None
    assert spinner.polls == polls + 1  # alone again: polls


def test_slow_replies_pause_polling_then_it_resumes(polling: Any) -> None:
    # BLPOP on an empty list answers after its 50 ms timeout: no poll of 50 µs can see it.
    client, spinner = polling, polling._spinner
    client.delete("spin:empty")
    polls = spinner.polls
    for _ in range(3):
        assert client.blpop(["spin:empty"], timeout=0.05) is None
    assert (spinner.misses, spinner.paused) == (3, 0)
    assert client.blpop(["spin:empty"], timeout=0.05) is None
    assert spinner.paused == 1000  # four misses in a row: the next 1000 commands do not poll
    assert spinner.polls == polls + 4
    for _ in range(1000):
        client.ping()
    assert spinner.polls == polls + 4 and spinner.paused == 0
    assert client.ping() is True
    assert spinner.polls == polls + 5  # polling again


def test_a_reply_within_the_budget_ends_a_run_of_misses() -> None:
    # The policy alone, on a socket pair: readable or not is decided here, not by a scheduler.
    class Conn:
        def __init__(self, sock: socket.socket) -> None:
            self._sock = sock

    ours, theirs = socket.socketpair()
    try:
        spinner = spin.Spinner(20)
        conn = Conn(ours)
        for _ in range(3):
            spinner.wait(conn)  # nothing to read: the budget runs out
        assert (spinner.misses, spinner.hits) == (3, 0)
        theirs.sendall(b"+OK\r\n")
        spinner.wait(conn)
        assert (spinner.misses, spinner.hits, spinner.paused) == (0, 1, 0)
        ours.recv(16)
        for _ in range(4):
            spinner.wait(conn)
        assert spinner.paused == 1000
    finally:
        ours.close()
        theirs.close()


class GreenSocket(socket.socket):
    """A socket class from outside the standard library, as gevent's and eventlet's are."""


def test_only_standard_library_sockets_are_polled() -> None:
    class Conn:
        def __init__(self, sock: socket.socket) -> None:
            self._sock = sock

    ours, theirs = socket.socketpair()
    green = GreenSocket(ours.family, ours.type, fileno=ours.detach())
    try:
        spinner = spin.Spinner(1000)
        spinner.wait(Conn(green))
        assert (spinner.waits, spinner.polls, spinner.misses) == (1, 0, 0)  # straight to recv
        plain, other = socket.socketpair()
        try:
            spinner.wait(Conn(plain))
            assert (spinner.waits, spinner.polls, spinner.misses) == (2, 1, 1)
        finally:
            plain.close()
            other.close()
    finally:
        green.close()
        theirs.close()


def test_a_reconnected_connection_is_polled_on_its_new_socket(redis_factory: Any) -> None:
    group = redis_factory("standalone")
    with override_settings(CACHES=_alias(group.url, CIRCUIT_BREAKER_COOLDOWN=0)):
        client = get_redis()
        client.set("k", "1")
        group.servers[0].restart()
        client.set("k", "2")  # the stale connection fails, the retry reconnects
        assert client.get("k") == b"2"
        [conn] = client._lean_free
        assert conn._drp_poll[0] is conn._sock and conn._drp_poll[1] is not None


def test_tls_replies_while_polling(tls_server: Any) -> None:
    with override_settings(CACHES=_alias(tls_server.url, SSL_CA_CERTS=str(tls_server.ca))):
        client = get_redis()
        assert client._spinner is not None
        client.set("spin:tls", "x" * 100_000)  # a reply larger than one TLS record
        assert client.get("spin:tls") == b"x" * 100_000
        assert client._spinner.polls == 2


@requires_lean("cluster")
def test_cluster_nodes_poll(cluster: Any) -> None:
    with override_settings(CACHES=_alias(cluster.url)):
        client = get_redis()
        assert isinstance(client, LeanRedisCluster)
        keys = [f"spin:{i}" for i in range(16)]  # spread over the three primaries
        for key in keys:
            client.set(key, key)
        assert [client.get(key) for key in keys] == [key.encode() for key in keys]
        spinners = [lean._spinner for lean in client._lean_nodes.values()]
        assert len(spinners) == 3
        assert all(s is not None and s.budget_ns == 50_000 for s in spinners)
        assert sum(s.waits for s in spinners if s is not None) == 32  # one per command, on its node
    with override_settings(CACHES=_alias(cluster.url, SPIN_WAIT_US=0)):
        client = get_redis()
        assert client.get("spin:0") == b"spin:0"
        assert all(lean._spinner is None for lean in client._lean_nodes.values())


def test_a_child_forked_while_a_thread_polls_can_poll() -> None:
    assert spin._polling.acquire(False)  # as a thread in the middle of its polling
    try:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through the pipe
            os.write(write, b"1" if spin._polling.acquire(False) else b"0")
            os._exit(0)
        os.close(write)
        assert os.read(read, 1) == b"1"
        os.waitpid(pid, 0)
        os.close(read)
    finally:
        spin._polling.release()
