"""``LeanAsyncRedis``: a ``redis.asyncio.Redis`` whose single commands skip redis-py's per-command machinery.

The asyncio counterpart of :class:`~.leanclient.LeanRedis` (read its docstring first). A
plain ``await client.get(key)`` on redis-py 8 checks a connection out of the pool under an
``asyncio.Lock``, records observability metrics (several awaited no-op hooks), builds a
retry closure, dispatches a release event and takes the lock again to release. A lean
client keeps its own free list of redis-py connections and does only what matters.

What it keeps, by using redis-py's own asyncio ``Connection`` objects and their own
``send_packed_command``/``read_response``: the handshake (AUTH, HELLO, SELECT, CLIENT
SETINFO), TLS, socket timeouts, the periodic health-check PING, Sentinel's primary
discovery and its ``ReadOnlyError`` -> reconnect on failover, error parsing (hiredis when
installed), the command packer redis-py's asyncio connections use, response callbacks
(awaited when they return an awaitable), ``NEVER_DECODE``/``EMPTY_RESPONSE``, the pool's
checkout check (a connection with unread data or closed by the server is reconnected before
use, outside the retry), ``max_connections``, and the connection's ``Retry`` for
``ConnectionError``/``TimeoutError`` (the same number of attempts as redis-py).
Pipelines, pub/sub, transactions, ``single_connection_client`` and HIMPORT (whose state
lives on redis-py's pooled connections) go through redis-py unchanged.

Cancellation: a command whose task is cancelled (``task.cancel()``, ``asyncio.timeout``,
``asyncio.wait_for``) between checkout and its reply being read leaves its connection
disconnected, never back on the free list with a reply still to come; the next command
on that connection reconnects. redis-py's connection already disconnects itself when an
interruption lands inside a send or a read; the lean client also covers the gaps between
them (the handshake of a new connection, the health check, the retry's back-off).

Each command takes its own connection, so concurrent tasks on the client's event loop
(``asyncio.gather``) never share one. A client belongs to the loop that opened its
connections (``connections.py`` builds one per loop), as every ``redis.asyncio`` client does.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import weakref
from typing import Any

import redis.asyncio
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.client import EMPTY_RESPONSE, NEVER_DECODE
from redis.exceptions import ConnectionError, MaxConnectionsError, ResponseError, TimeoutError

from .breaker import OFF, Breaker
from .leanclient import needs_redis_py

__all__ = ["LeanAsyncRedis"]

_MISSING: Any = object()

# Every live lean client, so a forked child can drop the connections it inherited (they are
# the parent's sockets).
_clients: weakref.WeakSet[LeanAsyncRedis] = weakref.WeakSet()


def _forget_inherited_connections() -> None:
    for client in list(_clients):
        client._lean_free = []
        client._lean_busy = 0


# redis-py >= 7 connections can be told by the server to reconnect (maintenance events).
_CAN_BE_ASKED_TO_RECONNECT = hasattr(redis.asyncio.connection.AbstractConnection, "should_reconnect")

os.register_at_fork(after_in_child=_forget_inherited_connections)


class LeanAsyncRedis(redis.asyncio.Redis):
    """A ``redis.asyncio.Redis`` with a lean single-command path (see the module docstring)."""

    #: The alias's circuit breaker (:mod:`.breaker`), checked here rather than by a wrapper so
    #: that a closed circuit costs one attribute read; the connection layer sets it.
    _breaker: Breaker = OFF
    _breaker_inline = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lean_free: list[Any] = []
        #: Connections checked out by commands in flight (the pool's max_connections applies).
        self._lean_busy = 0
        pool: Any = self.connection_pool
        # A Sentinel primary's pool knows the primary's address (updated on every discovery);
        # a connection to any other address is to a demoted primary and is reconnected.
        self._lean_sentinel = isinstance(pool, SentinelConnectionPool)
        self._lean_primary_pool = self._lean_sentinel and bool(pool.is_master)
        _clients.add(self)

    # -- checkout and release ------------------------------------------------------------

    def _lean_checkout(self) -> Any:
        free = self._lean_free
        if free:
            conn = free.pop()
        else:
            pool = self.connection_pool
            if self._lean_busy >= pool.max_connections:
                raise MaxConnectionsError("Too many connections")
            conn = pool.connection_class(**pool.connection_kwargs)
        self._lean_busy += 1
        return conn

    async def _lean_ready(self, conn: Any) -> None:
        """Connect ``conn`` and make sure it is ready to send, as redis-py's pool does on checkout.

        Outside the command's retry: ``connect()`` has a retry of its own, and a Sentinel
        connection asks Sentinel for the primary's address here.
        """
        if not conn.is_connected:
            await conn.connect()
        elif self._lean_primary_pool and self._lean_primary_address() != (conn.host, conn.port):
            await conn.disconnect()  # Sentinel named a new primary: reconnect there
            await conn.connect()
        # A connection with bytes waiting (or closed by the server: EOF) is not reusable.
        # No system call: the event loop has already read whatever the socket had.
        try:
            dirty = await conn.can_read() and not self._lean_maint_notifications()
        except (ConnectionError, TimeoutError, OSError):
            dirty = True
        if dirty:
            await conn.disconnect()
            await conn.connect()
            if await conn.can_read() and not self._lean_maint_notifications():
                raise ConnectionError("Connection not ready")

    def _lean_primary_address(self) -> Any:
        # SentinelConnectionPool.owns_connection() cannot be used: on redis.asyncio it calls
        # a base-class method that does not exist.
        pool: Any = self.connection_pool
        return pool.master_address

    def _lean_maint_notifications(self) -> bool:
        # With maintenance notifications, pushed messages may be waiting: redis-py reads them.
        enabled = getattr(self.connection_pool, "maint_notifications_enabled", None)
        return bool(enabled and enabled())

    async def _lean_release(self, conn: Any, clean: bool) -> None:
        self._lean_busy -= 1
        if not clean and conn.is_connected:
            # Interrupted between checkout and reading its reply (cancelled, or an error
            # redis-py did not disconnect for): a reply may still come. disconnect() closes
            # the socket before its first suspension point.
            with contextlib.suppress(Exception):
                await conn.disconnect(nowait=True)
        elif _CAN_BE_ASKED_TO_RECONNECT and conn.should_reconnect():
            with contextlib.suppress(Exception):
                await conn.disconnect()  # redis-py 8 maintenance notifications: the server asked
        self._lean_free.append(conn)

    # -- commands ------------------------------------------------------------------------

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        breaker = self._breaker
        name = args[0]
        # An open circuit (fail fast, or this call probes), single_connection_client (one
        # connection, one lock), HIMPORT (its state lives on redis-py's pooled connections):
        # redis-py's own path, through the breaker.
        if breaker.open or self.single_connection_client or needs_redis_py(name):
            return await breaker.acall(super().execute_command, args, options)
        never_decode = False
        empty_response = _MISSING
        if options:
            # "keys" only feeds redis-py's client-side cache, which a lean client does not use.
            options.pop("keys", None)
            if NEVER_DECODE in options:
                del options[NEVER_DECODE]
                never_decode = True
            empty_response = options.pop(EMPTY_RESPONSE, _MISSING)
        conn = self._lean_checkout()
        clean = True
        try:
            packed = conn.pack_command(*args)  # a DataError here leaves the connection clean
            clean = False  # from here until a reply is read, the connection is in doubt
            await self._lean_ready(conn)
            try:
                try:
                    response = await self._lean_call(conn, packed, never_decode)
                except Exception as first:
                    response = await self._lean_retry(conn, packed, never_decode, first)
            except ResponseError:
                clean = True  # an error reply, read in full
                if empty_response is not _MISSING:
                    return empty_response
                raise
            clean = True
        except (ConnectionError, TimeoutError) as exc:
            breaker.failed(exc, False)  # after the retry: the server is silent or refuses
            raise
        finally:
            await self._lean_release(conn, clean)
        callback = self.response_callbacks.get(name)
        if callback is None:
            return response
        result = callback(response, **options)
        return await result if inspect.isawaitable(result) else result

    async def _lean_call(self, conn: Any, packed: Any, never_decode: bool) -> Any:
        await conn.send_packed_command(packed)
        if never_decode:
            return await conn.read_response(disable_decoding=True)
        return await conn.read_response()

    async def _lean_retry(self, conn: Any, packed: Any, never_decode: bool, first: Exception) -> Any:
        """The first attempt failed: let the connection's ``Retry`` run the rest.

        The first failure is replayed as the retry's own first attempt, so its rules apply
        unchanged: which errors are retried, how many times, and the back-off between tries.
        """
        pending = [first]
        sentinel = self._lean_sentinel

        async def attempt() -> Any:
            if pending:
                raise pending.pop()
            if sentinel and not conn.is_connected:
                # send_packed_command would reconnect to the address the connection had
                # (possibly a demoted primary, never asking Sentinel): ask Sentinel first.
                # One try, as send's own reconnect: the command's retry is the retry.
                await conn._connect_retry()
            return await self._lean_call(conn, packed, never_decode)

        async def failed(_error: Exception) -> None:
            await conn.disconnect()

        return await conn.retry.call_with_retry(attempt, failed)

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        """Disconnect the idle lean connections, then close as ``redis.asyncio.Redis`` does."""
        free, self._lean_free = getattr(self, "_lean_free", []), []
        for conn in free:
            with contextlib.suppress(Exception):
                await conn.disconnect()
        await super().aclose(close_connection_pool)
