"""``LeanRedis``: a ``redis.Redis`` whose single commands skip redis-py's per-command machinery.

Why: on redis-py 8 a plain ``client.get(key)`` runs about 130 Python function calls around
its two socket calls (pool checkout with a ``poll`` of the socket, per-command metrics
hooks, a retry closure, event dispatch, pool release). Over loopback that is about half of
a GET's wall time, and it is the same for every command this package sends. A lean client
keeps what matters and drops the rest.

What it keeps, by using redis-py's own ``Connection`` objects: the handshake (AUTH, HELLO,
SELECT, CLIENT SETINFO), TLS, socket timeouts, the periodic health-check PING, Sentinel's
master discovery and its ``ReadOnlyError`` -> reconnect on failover, error parsing
(hiredis when installed), response callbacks, and the client's retry policy for
``ConnectionError``/``TimeoutError``. Pipelines, pub/sub, transactions and
``single_connection_client`` go through redis-py unchanged.

What it drops: redis-py's connection-pool bookkeeping for single commands (a lean client
keeps its own free list of connections, built from the pool's connection class and
arguments) and redis-py 8's per-command observability hooks. ``OPTIONS["LEAN_CLIENT"] =
False`` builds plain redis-py clients instead, for projects that rely on those hooks.

A connection is only ever returned to the free list in a clean state: redis-py's
connection disconnects itself on any error or interruption while sending or reading, and
a disconnected connection reconnects on its next use.
"""

from __future__ import annotations

import os
from typing import Any

import redis
from redis.client import EMPTY_RESPONSE, NEVER_DECODE

__all__ = ["LeanRedis"]


class LeanRedis(redis.Redis):
    """A ``redis.Redis`` with a lean single-command path (see the module docstring)."""

    _lean_free: list[Any]
    _lean_pid: int

    def _lean_connection(self) -> Any:
        pid = os.getpid()
        if getattr(self, "_lean_pid", None) != pid:
            # First use, or a forked child: never touch a socket the parent owns.
            self._lean_pid = pid
            self._lean_free = []
        try:
            return self._lean_free.pop()
        except IndexError:
            pool = self.connection_pool
            return pool.connection_class(**pool.connection_kwargs)

    def execute_command(self, *args: Any, **options: Any) -> Any:
        if self.connection is not None:  # single_connection_client: redis-py's own path
            return super().execute_command(*args, **options)
        # "keys" only feeds redis-py's client-side cache, which a lean client does not use.
        options.pop("keys", None)
        conn = self._lean_connection()
        try:
            if conn._sock is None:
                # As redis-py's pool does on checkout, outside the command's retry: connect()
                # has a retry of its own, and a Sentinel connection asks Sentinel for the
                # primary's address only here (a reconnect inside the retry, by
                # send_packed_command, goes back to the address it had, as in redis-py).
                conn.connect()
            return conn.retry.call_with_retry(
                lambda: self._lean_call(conn, args, options),
                lambda _error: conn.disconnect(),
            )
        finally:
            self._lean_release(conn)

    def _lean_call(self, conn: Any, args: tuple[Any, ...], options: dict[str, Any]) -> Any:
        conn.send_packed_command(conn.pack_command(*args))
        if NEVER_DECODE in options or EMPTY_RESPONSE in options:
            return self.parse_response(conn, args[0], **options)  # rare: redis-py's full parse
        response = conn.read_response()
        callback = self.response_callbacks.get(args[0])
        return response if callback is None else callback(response, **options)

    def _lean_release(self, conn: Any) -> None:
        should_reconnect = getattr(conn, "should_reconnect", None)
        if (should_reconnect is not None and should_reconnect()) or not self.connection_pool.owns_connection(conn):
            # Disconnected now, reconnected on next use, as redis-py's pool does on release:
            # the server asked for a new connection (redis-py 8 maintenance notifications), or
            # Sentinel reported a new primary since this connection was opened.
            conn.disconnect()
        if getattr(self, "_lean_pid", None) == os.getpid():
            self._lean_free.append(conn)

    def close(self) -> None:
        for conn in getattr(self, "_lean_free", ()):
            conn.disconnect()
        self._lean_free = []
        super().close()

