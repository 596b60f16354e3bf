"""The invalidation connection of a near cache: one per Redis primary, in a daemon thread.

Each connection runs, on a RESP2 connection of its own::

    CLIENT ID                                  -> <id>
    CLIENT TRACKING on REDIRECT <id> BCAST PREFIX <p1> PREFIX <p2> ...
    SUBSCRIBE __redis__:invalidate

and then reads ``__redis__:invalidate`` messages: a list of keys (written, deleted,
expired, evicted, renamed, changed by a script or by another client) or nil (FLUSHALL /
FLUSHDB), each applied to the :class:`~.nearcache.Store` at once.

Why this and not redis-py's own client-side cache (``cache_config``):

* it exists only from redis-py 5.1 (this package supports 5.0), for sync clients only in
  most versions, and needs RESP3 on every pooled connection, which our lean clients and
  Cluster clients do not use;
* it tracks per key on each data connection (the server keeps a table entry per key and
  client), and applies invalidations only when that connection is next used; here every
  invalidation is applied by a thread as soon as it arrives, which is what bounds
  staleness across processes;
* it cannot express this package's rules: the placeholder before the read, flushing when
  tracking is lost, fork safety.

Why BCAST with prefixes rather than per-key tracking: the read path needs no tracking
state on its connections (any pooled connection, sync or async, may serve a miss), the
server keeps no per-key table (its memory does not grow with the keys clients cached),
and one connection per primary serves every thread and event loop of the process. The
cost is that the process hears about every write under the tracked prefixes, not only
keys it holds; ``KEYS`` narrows the prefixes to the hot keys.

Why RESP2 with REDIRECT to itself: the same code runs on every redis-py version from 5.0,
whose RESP3 push handling differs from version to version.

Losing the connection (EOF, error, or no answer to a PING within ``PING_TIMEOUT``) marks
the store not live (reads bypass it, nothing is kept) and empties it; the thread
reconnects with a short backoff and, once subscribed again, empties the store once more
and marks it live.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from redis.exceptions import ResponseError

from .nearcache import Store

logger = logging.getLogger("django_redis_patterns.cache")

CHANNEL = b"__redis__:invalidate"
#: How often an idle invalidation connection is PINGed, and how long an answer may take
#: before the connection is declared lost (bounds how long a silently dead connection can
#: leave copies stale).
PING_INTERVAL = 1.0
PING_TIMEOUT = 2.0
RECONNECT_DELAYS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0)


class Tracker:
    """One invalidation connection to one server, run by a daemon thread."""

    def __init__(self, store: Store, connect: Callable[[], Any], label: str) -> None:
        self.store = store
        #: Returns a new, unconnected redis-py Connection to the server to track.
        self._connect = connect
        self.label = label
        self.subscribed = False
        self._stop = threading.Event()
        self._conn: Any = None
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name=f"near-cache invalidation {label}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        conn = self._conn
        if conn is not None:
            try:
                conn.disconnect()
            except Exception:  # closing a socket that may already be gone
                pass

    def abandon(self) -> None:
        """In a forked child: forget the parent's thread and socket without touching them."""
        self._stop.set()
        self._conn = None

    # -- the thread ----------------------------------------------------------------------
    def _run(self) -> None:
        failures = 0
        incident = False
        while not self._stop.is_set() and os.getpid() == self._pid:
            try:
                conn = self._subscribe()
                if incident:
                    logger.info("near cache %s: invalidation connection back", self.label)
                incident = False
                failures = 0
                self._read(conn)
            except ResponseError as exc:
                # The server refused the setup (CLIENT TRACKING needs Redis 6+; an ACL may deny
                # it): the near cache stays off, and every read goes to Redis.
                if not incident:
                    logger.error(
                        "near cache %s: the server refused invalidation tracking (%s); NEAR_CACHE needs Redis 6 "
                        "or later and the CLIENT and SUBSCRIBE commands; reading every key from Redis",
                        self.label,
                        exc,
                    )
                incident = True
            except Exception as exc:
                if self._stop.is_set():
                    break
                if not incident:
                    logger.warning(
                        "near cache %s: invalidation connection lost (%s: %s); reading from Redis until it is back",
                        self.label,
                        type(exc).__name__,
                        exc,
                    )
                incident = True
            finally:
                self._lost()
            self._stop.wait(RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)])
            failures += 1

    def _subscribe(self) -> Any:
        conn = self._conn = self._connect()
        conn.connect()
        conn.send_command("CLIENT", "ID")
        client_id = conn.read_response()
        prefixes: list[str] = []
        for prefix in self.store.prefixes:
            prefixes += ["PREFIX", prefix]
        conn.send_command("CLIENT", "TRACKING", "on", "REDIRECT", client_id, "BCAST", *prefixes)
        conn.read_response()
        conn.send_command("SUBSCRIBE", CHANNEL)
        reply = conn.read_response()
        if not (isinstance(reply, list) and reply[:1] == [b"subscribe"]):
            raise ConnectionError(f"unexpected reply to SUBSCRIBE: {reply!r}")
        self.subscribed = True
        self.store.set_live(True)
        return conn

    def _read(self, conn: Any) -> None:
        store = self.store
        last_heard = time.monotonic()
        ping_sent: float | None = None
        while not self._stop.is_set():
            if conn.can_read(timeout=PING_INTERVAL / 2):
                message = conn.read_response()
                last_heard = time.monotonic()
                kind = message[0] if isinstance(message, list) and message else None
                if kind == b"message" and message[1] == CHANNEL:
                    keys = message[2]
                    if keys is None:  # FLUSHALL / FLUSHDB
                        store.flush()
                    else:
                        store.discard([k.decode("utf-8", "surrogateescape") for k in keys])
                elif kind == b"pong":
                    ping_sent = None
                continue
            now = time.monotonic()
            if ping_sent is not None and now - ping_sent > PING_TIMEOUT:
                raise ConnectionError(f"no answer to PING in {PING_TIMEOUT}s")
            if ping_sent is None and now - last_heard >= PING_INTERVAL:
                conn.send_command("PING")
                ping_sent = now

    def _lost(self) -> None:
        self.subscribed = False
        if os.getpid() != self._pid:
            return
        self.store.set_live(False)
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.disconnect()
            except Exception:  # the socket is gone already
                pass


#: How often a Cluster's slot map is read to notice resharding, failovers and new primaries.
CLUSTER_WATCH_INTERVAL = 1.0


class ClusterWatch:
    """One invalidation connection per Cluster primary, following the slot map.

    Every ``CLUSTER_WATCH_INTERVAL`` it reads ``CLUSTER SLOTS``. When the map changed (a
    resharding, a failover, a primary added or removed) it empties the store, starts a
    :class:`Tracker` for each new primary and stops those of primaries that left; until
    every current primary's tracker is subscribed the store is not live (reads bypass).
    Between two reads of the map, a key that moved stays correct: its old node sends the
    invalidation of the migration's delete, and its new node was already tracked unless it
    is a primary that just joined.
    """

    subscribed = True  # the watch itself never holds the store back

    def __init__(self, store: Store, client: Any, label: str) -> None:
        self.store = store
        self._client = client
        self.label = label
        self._stop = threading.Event()
        self._pid = os.getpid()
        self._trackers: dict[str, Tracker] = {}
        self._map: Any = None
        self._template: Any = None
        self._thread = threading.Thread(target=self._run, name=f"near-cache cluster watch {label}", daemon=True)

    def start(self) -> None:
        # The first read of the map happens in the thread too: the caller may be a request
        # (or an event loop) that must not wait on it, and a failure is simply retried.
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        for tracker in list(self._trackers.values()):
            tracker.stop()

    def abandon(self) -> None:
        self._stop.set()
        for tracker in self._trackers.values():
            tracker.abandon()

    def _run(self) -> None:
        while not self._stop.is_set() and os.getpid() == self._pid:
            try:
                self._refresh()
            except Exception as exc:  # a node down: its tracker already holds the store back
                logger.debug("near cache %s: reading CLUSTER SLOTS failed: %s", self.label, exc)
            self._stop.wait(CLUSTER_WATCH_INTERVAL)

    def _slot_map(self) -> tuple[tuple[int, int, str], ...]:
        errors: list[BaseException] = []
        for node in self._client.get_primaries():
            try:
                reply = node.redis_connection.execute_command("CLUSTER SLOTS")
            except Exception as exc:
                errors.append(exc)
                continue
            if self._template is None:
                self._template = node.redis_connection
            return _parse_slots(reply)
        raise ConnectionError(f"no primary answered CLUSTER SLOTS: {errors[-1:]}")

    def _refresh(self) -> None:
        slot_map = self._slot_map()
        if slot_map == self._map:
            return
        first = self._map is None
        self._map = slot_map
        primaries = {address for _, _, address in slot_map}
        for address in list(self._trackers):
            if address not in primaries:
                self._trackers.pop(address).stop()
        for address in sorted(primaries - set(self._trackers)):
            host, _, port = address.rpartition(":")
            self._trackers[address] = Tracker(
                self.store, _connection_to(self._template, host, int(port)), f"{self.label} node {address}"
            )
        self.store.trackers = [self, *self._trackers.values()]
        if not first:
            logger.info("near cache %s: the cluster's slot map changed; local copies dropped", self.label)
        self.store.set_live(True)  # empties the store; live only once every tracker is subscribed
        for tracker in self._trackers.values():
            if not tracker._thread.is_alive() and not tracker._stop.is_set():
                tracker.start()


def _parse_slots(reply: Any) -> tuple[tuple[int, int, str], ...]:
    """(start, end, "host:port" of the primary) per slot range, from redis-py's parsed or raw reply."""
    ranges: list[tuple[int, int, str]] = []
    if isinstance(reply, dict):
        for (start, end), nodes in reply.items():
            host, port = nodes["primary"][:2]
            ranges.append((int(start), int(end), f"{_text(host)}:{int(port)}"))
    else:
        for entry in reply:
            host, port = entry[2][:2]
            ranges.append((int(entry[0]), int(entry[1]), f"{_text(host)}:{int(port)}"))
    return tuple(sorted(ranges))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def connection_factory(client: Any) -> Callable[[], Any]:
    """New RESP2 connections like the client's own (auth, TLS, db, Sentinel discovery)."""
    pool = client.connection_pool
    kwargs = {**pool.connection_kwargs, "protocol": 2, "health_check_interval": 0}
    kwargs.pop("cache", None)
    kwargs.pop("cache_config", None)
    connection_class = pool.connection_class
    return lambda: connection_class(**kwargs)


def _connection_to(template: Any, host: str, port: int) -> Callable[[], Any]:
    """Like :func:`connection_factory` for another Cluster node (same credentials and TLS)."""
    pool = template.connection_pool
    kwargs = {**pool.connection_kwargs, "host": host, "port": port, "protocol": 2, "health_check_interval": 0}
    kwargs.pop("cache", None)
    kwargs.pop("cache_config", None)
    connection_class = pool.connection_class
    return lambda: connection_class(**kwargs)
