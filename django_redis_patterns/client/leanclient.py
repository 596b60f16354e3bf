"""``LeanRedis``: a ``redis.Redis`` whose single commands skip redis-py's per-command machinery.

Why: on redis-py 8 a plain ``client.get(key)`` runs about 130 Python function calls around
its two socket calls (pool checkout with a ``poll`` of the socket, per-command metrics
hooks, a retry closure, event dispatch, pool release). Over loopback that is about half of
a GET's wall time, and it is the same for every command this package sends. A lean client
keeps what matters and drops the rest.

What it keeps, by using redis-py's own ``Connection`` objects: the handshake (AUTH, HELLO,
SELECT, CLIENT SETINFO), TLS, socket timeouts, the periodic health-check PING, Sentinel's
primary discovery and its ``ReadOnlyError`` -> reconnect on failover, error parsing
(hiredis when installed), response callbacks, the pool's ``max_connections`` (this client
opens at most that many), and the client's retry policy for
``ConnectionError``/``TimeoutError``. Pipelines, pub/sub, transactions and
``single_connection_client`` go through redis-py unchanged.

What it drops: redis-py's connection-pool bookkeeping for single commands (a lean client
keeps its own free list of connections, built from the pool's connection class and
arguments) and redis-py 8's per-command observability hooks. This package's own
instrumentation point (:mod:`.instrument`: metrics, spans, the debug-toolbar panel) sees lean
clients as it sees plain ones; ``OPTIONS["LEAN_CLIENT"] = False`` builds plain redis-py
clients, for projects that rely on redis-py's own hooks.

A connection is only ever returned to the free list in a clean state: redis-py's
connection disconnects itself on any error or interruption while sending or reading, and
a disconnected connection reconnects on its next use.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from typing import Any

import redis
from redis.client import EMPTY_RESPONSE, NEVER_DECODE
from redis.connection import ConnectionPool
from redis.exceptions import ConnectionError, MaxConnectionsError, ResponseError, TimeoutError

from .breaker import OFF, Breaker
from .spin import Spinner

try:  # the C packer redis-py itself uses when hiredis is installed
    from hiredis import pack_command as _hiredis_pack
    from redis.connection import HiredisRespSerializer
except ImportError:  # pragma: no cover - hiredis is optional
    _hiredis_pack = None  # type: ignore[assignment]
    HiredisRespSerializer = None  # type: ignore[assignment,misc]

# redis-py >= 6 connections can be told by the server to reconnect (maintenance events).
_CAN_BE_ASKED_TO_RECONNECT = hasattr(redis.connection.AbstractConnection, "should_reconnect")

__all__ = ["LeanRedis"]

# Every live lean client, so a forked child can drop the connections it inherited (they are
# the parent's sockets) without a getpid() on every command.
_clients: weakref.WeakSet[LeanRedis] = weakref.WeakSet()


def _forget_inherited_connections() -> None:
    for client in list(_clients):
        client._lean_free = []
        client._lean_made = 0
        client._lean_made_lock = threading.Lock()  # another thread may have held it at the fork


os.register_at_fork(after_in_child=_forget_inherited_connections)


def needs_redis_py(name: Any) -> bool:
    # redis-py 8.1's HIMPORT SET must PREPARE its fieldset on the very connection that sends it;
    # only redis-py's own path (and its pooled connections) keeps that state.
    head = name[:7]
    if isinstance(head, bytes):
        head = head.decode("latin-1")
    return head.upper() == "HIMPORT"


class LeanRedis(redis.Redis):
    """A ``redis.Redis`` with a lean single-command path (see the module docstring)."""

    #: The alias's circuit breaker (:mod:`.breaker`), checked here rather than by a wrapper so
    #: that a closed circuit costs one attribute read; the connection layer sets it.
    _breaker: Breaker = OFF
    _breaker_inline = True
    #: Polls for a reply briefly before the blocking read (:mod:`.spin`); None: never polls.
    #: The connection layer sets it from ``OPTIONS["SPIN_WAIT_US"]``.
    _spinner: Spinner | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lean_free: list[Any] = []
        #: Connections this client has opened, idle or in use: at most the pool's max_connections
        #: (OPTIONS["MAX_CONNECTIONS"]), as redis-py's pool allows. Counted only when one is made
        #: or closed, so a command's checkout stays a bare list pop.
        self._lean_made = 0
        self._lean_made_lock = threading.Lock()
        pool = self.connection_pool
        # A Sentinel pool disowns connections to a demoted primary; a plain pool owns all
        # of this process's connections, and that check is skipped.
        self._lean_owner_check = type(pool).owns_connection is not ConnectionPool.owns_connection
        _clients.add(self)

    def _lean_new_connection(self) -> Any:
        pool = self.connection_pool
        with self._lean_made_lock:
            if self._lean_made >= pool.max_connections:
                raise MaxConnectionsError("Too many connections")  # redis-py's pool says the same
            self._lean_made += 1
        try:
            conn = pool.connection_class(**pool.connection_kwargs)
        except BaseException:
            with self._lean_made_lock:
                self._lean_made -= 1
            raise
        # Pack with hiredis directly only where redis-py itself would (same bytes, one call).
        hiredis_packer = HiredisRespSerializer is not None and isinstance(
            getattr(conn, "_command_packer", None), HiredisRespSerializer
        )
        conn._drp_pack = _hiredis_pack if hiredis_packer else None
        return conn

    def execute_command(self, *args: Any, **options: Any) -> Any:
        breaker = self._breaker
        if breaker.open or self.connection is not None or needs_redis_py(args[0]):
            # An open circuit (fail fast, or this call probes), single_connection_client, or a
            # command with per-connection state: redis-py's path, through the breaker.
            return breaker.call(super().execute_command, args, options)
        if options:
            # "keys" only feeds redis-py's client-side cache, which a lean client does not use.
            options.pop("keys", None)
        free = self._lean_free
        try:
            conn = free.pop()
        except IndexError:
            conn = self._lean_new_connection()
        try:
            if conn._sock is None:
                # As redis-py's pool does on checkout, outside the command's retry: connect()
                # has a retry of its own, and a Sentinel connection asks Sentinel for the
                # primary's address only here (a reconnect inside the retry, by
                # send_packed_command, goes back to the address it had, as in redis-py).
                conn.connect()
            try:
                return self._lean_call(conn, args, options)
            except ResponseError:
                raise  # a reply: the connection is clean, nothing to retry
            except Exception as first:
                return self._lean_retry(conn, lambda: self._lean_call(conn, args, options), first)
        except (ConnectionError, TimeoutError) as exc:
            breaker.failed(exc, False)  # after the retry: the server is silent or refuses
            raise
        finally:
            self._lean_release(conn, free)

    def execute_together(self, *commands: tuple[Any, ...]) -> list[Any]:
        """Several commands in one write and one round trip, their raw replies in order.

        A pipeline without redis-py's pipeline machinery, for a few idempotent commands
        (the near cache's ``GET`` + ``PTTL``): retried as a whole like a single command. A
        reply that is an error is raised after every reply has been read, so the
        connection stays clean.
        """
        breaker = self._breaker
        if breaker.open or self.connection is not None:
            pipe = self.pipeline(transaction=False)
            for args in commands:
                pipe.execute_command(*args)
            return list(breaker.call(pipe.execute, (), {}))
        free = self._lean_free
        try:
            conn = free.pop()
        except IndexError:
            conn = self._lean_new_connection()
        try:
            if conn._sock is None:
                conn.connect()
            try:
                return self._lean_together(conn, commands)
            except ResponseError:
                raise
            except Exception as first:
                return self._lean_retry(conn, lambda: self._lean_together(conn, commands), first)  # type: ignore[no-any-return]
        except (ConnectionError, TimeoutError) as exc:
            breaker.failed(exc, False)
            raise
        finally:
            self._lean_release(conn, free)

    def _lean_together(self, conn: Any, commands: tuple[tuple[Any, ...], ...]) -> list[Any]:
        pack = conn._drp_pack
        # One buffer, one send: two sends can reach the server as two segments, and it would
        # answer the first before the second arrives (two round trips' worth of waiting).
        packed = [b"".join([pack(args) for args in commands])] if pack is not None else conn.pack_commands(commands)
        conn.send_packed_command(packed)
        if self._spinner is not None:
            self._await_reply(conn)
        replies: list[Any] = []
        error: ResponseError | None = None
        for _ in commands:
            try:
                replies.append(conn.read_response())
            except ResponseError as exc:
                error = error or exc
                replies.append(exc)
        if error is not None:
            raise error
        return replies

    def _lean_call(self, conn: Any, args: tuple[Any, ...], options: dict[str, Any]) -> Any:
        name = args[0]
        pack = conn._drp_pack
        packed = None
        if pack is not None and not (" " in name if isinstance(name, str) else b" " in name):
            try:
                packed = (pack(args),)
            except TypeError:  # bytearray, memoryview, or a bad type: redis-py's packer decides
                pass
        conn.send_packed_command(packed or conn.pack_command(*args))
        if self._spinner is not None:
            self._await_reply(conn)
        if options and (NEVER_DECODE in options or EMPTY_RESPONSE in options):
            return self.parse_response(conn, name, **options)  # rare: redis-py's full parse
        response = conn.read_response()
        callback = self.response_callbacks.get(name)
        return response if callback is None else callback(response, **options)

    def _await_reply(self, conn: Any) -> None:
        # Poll only while this is the client's one command in flight: other threads' commands
        # keep this vCPU awake anyway, and polling would hold the GIL they need to send them.
        if self._lean_made - len(self._lean_free) <= 1:
            self._spinner.wait(conn)  # type: ignore[union-attr]

    @staticmethod
    def _lean_retry(conn: Any, call: Callable[[], Any], first: Exception) -> Any:
        """The first attempt failed: let the connection's ``Retry`` run the rest.

        The first failure is replayed as the retry's own first attempt, so its rules apply
        unchanged: which errors are retried, how many times, and the back-off between tries.
        """
        pending = [first]

        def attempt() -> Any:
            if pending:
                raise pending.pop()
            return call()

        return conn.retry.call_with_retry(attempt, lambda _error: conn.disconnect())

    def _lean_release(self, conn: Any, free: list[Any]) -> None:
        if _CAN_BE_ASKED_TO_RECONNECT and conn.should_reconnect():
            conn.disconnect()  # redis-py 8 maintenance notifications: the server asked for it
        elif self._lean_owner_check and not self.connection_pool.owns_connection(conn):
            conn.disconnect()  # Sentinel names a new primary: reconnect there on next use
        free.append(conn)

    def close(self) -> None:
        self.close_idle()
        super().close()

    def close_idle(self) -> None:
        """Close the idle connections of the lean path; the client stays usable."""
        # One atomic pop at a time: another thread may be mid-command on a connection of this
        # client; it is not in the free list, so it is never touched here.
        free = getattr(self, "_lean_free", [])  # also runs from __del__ after a failed __init__
        while free:
            try:
                conn = free.pop()
            except IndexError:
                break
            with self._lean_made_lock:
                self._lean_made -= 1
            conn.disconnect()
