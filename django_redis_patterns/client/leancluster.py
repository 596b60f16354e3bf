"""``LeanRedisCluster``: a ``RedisCluster`` whose common single-key commands skip redis-py's
per-command machinery.

Why: on redis-py 8.1 ``RedisCluster.execute_command`` runs a command-policy resolver,
``determine_slot`` (through the commands parser), node selection under a lock, a pool
checkout, per-command observability hooks and its retry bookkeeping around every command.
For the handful of commands this package sends all the time (GET, SET, EVALSHA...) the key
is at a known position, so the slot is one CRC16 and the node is one dict lookup.

The fast path is taken only when it is certainly safe:

* the command is in :data:`LEAN_COMMANDS` (single-key commands whose key position is fixed;
  DEL/UNLINK/EXISTS/TOUCH with exactly one key; EVAL/EVALSHA with ``numkeys >= 1`` whose
  keys all hash to one slot), spelled as redis-py's own methods spell it (upper case);
* no ``target_nodes`` (or ``nodes_flag``) is given;
* reads go to primaries (no ``read_from_replicas`` / ``load_balancing_strategy``), RESP2
  (RESP3 brings client-side caching and maintenance notifications, which live in redis-py's
  pool), no streaming credential provider (its re-authentication walks redis-py's pool);
* the slot is in the client's slot map and its primary already has a redis-py client;
* the installed redis-py has one of the two topology-refresh protocols mirrored below:
  redis-py 8.0-8.1 refresh at once after an error (``_ImmediateRefresh``); 8.2 asks for a
  refresh that the next attempt runs once due, with a back-off between attempts
  (``_DeferredRefresh``). :mod:`.compat` checks which one the installed redis-py has, and the
  connection layer builds a plain ``RedisCluster`` where it has neither.

The command is then sent by a :class:`~.leanclient.LeanRedis` built on the primary's own
redis-py ``ConnectionPool`` (same connection class and arguments: handshake, TLS, timeouts,
health check, the node's zero-retry policy), cached per node name and rebuilt whenever the
node's pool is not the one it was built on. Everything else, and every "the cluster says no
or has changed" outcome, goes to redis-py's own ``RedisCluster.execute_command`` (see
:meth:`LeanRedisCluster.execute_command` for the exact accounting).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import redis.cluster
from redis.crc import key_slot
from redis.exceptions import (
    AskError,
    AuthenticationError,
    ClusterDownError,
    ConnectionError,
    DataError,
    MaxConnectionsError,
    MovedError,
    TimeoutError,
    TryAgainError,
)

from . import compat
from .leanclient import LeanRedis
from .spin import Spinner

__all__ = ["LEAN_COMMANDS", "LeanRedisCluster", "OneKeyCommands", "lean_slot", "lean_table", "ordinary_policy"]

_KEY = 1  # the key is args[1]; any further arguments are not keys
_ONLY_KEY = 2  # args[1] is the key and must be the only argument (DEL k, not DEL k1 k2)
_SCRIPT = 3  # EVAL/EVALSHA script numkeys key [key ...] arg [arg ...]

#: Commands with a lean path, and where their key is. Names as redis-py's methods send them.
LEAN_COMMANDS: dict[str, int] = {
    **dict.fromkeys(
        (
            "GET",
            "SET",
            "INCR",
            "DECR",
            "INCRBY",
            "DECRBY",
            "EXPIRE",
            "PEXPIRE",
            "EXPIREAT",
            "PEXPIREAT",
            "TTL",
            "PTTL",
            "PERSIST",
            "GETDEL",
            "ZSCORE",
            "ZRANK",
            "ZREVRANK",
            "ZADD",
            "ZINCRBY",
            "ZREM",
            "ZCARD",
            "ZCOUNT",
            "ZRANGE",
            "ZREVRANGE",
            "HGET",
            "HSET",
            "HGETALL",
            "HDEL",
        ),
        _KEY,
    ),
    **dict.fromkeys(("DEL", "UNLINK", "EXISTS", "TOUCH"), _ONLY_KEY),
    **dict.fromkeys(("EVAL", "EVALSHA"), _SCRIPT),
}


def ordinary_policy(policies: Any, name: str = "") -> bool:
    """True when a resolved command policy routes and answers like any one-key command.

    redis-py 8.2 resolves some keyed read commands to (DEFAULT_KEYED, DEFAULT_KEYED): the same
    routing as no policy at all. It resolves EXISTS and TOUCH to (MULTI_SHARD, AGG_SUM): with
    the one key the lean path sends them with, that is one slot and a sum of one reply. Any
    other policy stays with redis-py.
    """
    if not policies:
        return True
    request = getattr(getattr(policies, "request_policy", None), "value", None)
    response = getattr(getattr(policies, "response_policy", None), "value", None)
    if request == "default_keyed" and response == "default_keyed":
        return True
    return LEAN_COMMANDS.get(name) == _ONLY_KEY and request == "multi_shard" and response == "agg_sum"


def lean_table(client: Any, special: set[str]) -> dict[str, int]:
    """The part of :data:`LEAN_COMMANDS` a Cluster client may send on its lean path.

    A command redis-py would route (``command_flags``, a command policy) or post-process
    (``result_callbacks``, or a name in ``special``) specially stays with redis-py.
    """
    return {
        name: kind
        for name, kind in LEAN_COMMANDS.items()
        if name not in client.command_flags and name not in client.result_callbacks and name not in special
    }


def lean_slot(kind: int, args: tuple[Any, ...], encode: Any) -> int | None:
    """The slot of a table command's key(s), or None when redis-py must decide."""
    try:
        if kind == _KEY:
            key = encode(args[1])
        elif kind == _ONLY_KEY:
            if len(args) != 2:
                return None
            key = encode(args[1])
        else:  # _SCRIPT
            numkeys = int(args[2])
            if numkeys < 1 or len(args) < 3 + numkeys:
                return None  # no key (any node), or a malformed call: redis-py decides
            slots = set()
            for key in args[3 : 3 + numkeys]:
                encoded = encode(key)
                if type(encoded) is not bytes:
                    return None
                slots.add(key_slot(encoded))
            # Keys in several slots: redis-py raises its own "same key slot" error.
            return slots.pop() if len(slots) == 1 else None
    except (IndexError, ValueError, TypeError, DataError):
        return None  # redis-py raises the error it would raise anyway
    if type(key) is not bytes:  # a memoryview: let redis-py handle it
        return None
    return key_slot(key)


class OneKeyCommands:
    """DEL/EXISTS/TOUCH/UNLINK of one key as one command, for both lean Cluster clients.

    redis-py's Cluster clients send these through a ClusterPipeline split by slot, even for
    one key. One key is one command on one slot: the lean path, whose reply (an int) is the
    pipeline's sum of one int. Sync or asyncio alike: each method returns what
    ``execute_command`` or redis-py's own method returns (a coroutine on asyncio).
    """

    _lean_commands: dict[str, int]
    execute_command: Any

    def _one_key(self, command: str, keys: tuple[Any, ...], many: Any) -> Any:
        if len(keys) == 1 and command in self._lean_commands:
            return self.execute_command(command, *keys)
        return many(*keys)

    def delete(self, *keys: Any) -> Any:
        return self._one_key("DEL", keys, super().delete)  # type: ignore[misc]

    def exists(self, *keys: Any) -> Any:
        return self._one_key("EXISTS", keys, super().exists)  # type: ignore[misc]

    def touch(self, *keys: Any) -> Any:
        return self._one_key("TOUCH", keys, super().touch)  # type: ignore[misc]

    def unlink(self, *keys: Any) -> Any:
        return self._one_key("UNLINK", keys, super().unlink)  # type: ignore[misc]


_NOT_NODE_FAILURES: tuple[type[Exception], ...] = (
    AuthenticationError,
    MaxConnectionsError,
    *((redis.exceptions.MaxClientsReachedError,) if hasattr(redis.exceptions, "MaxClientsReachedError") else ()),
)


class _ImmediateRefresh:
    """What redis-py 8.0-8.1 do after an error: refresh the topology at once."""

    @staticmethod
    def moved(client: Any, node: Any, error: MovedError) -> None:
        client.reinitialize_counter += 1
        if client._should_reinitialized():
            client.nodes_manager.initialize(additional_startup_nodes_info=[(error.host, error.port)])
            client.reinitialize_counter = 0
        else:
            client.nodes_manager.move_slot(error)

    @staticmethod
    def connection_failed(client: Any, node: Any) -> None:
        # This node's idle connections are suspect (its pool's and the lean client's), and
        # the topology is re-read with the failed node tried last.
        client._lean_forget(node.name)
        redis_node = node.redis_connection
        pool = redis_node.connection_pool if redis_node is not None else None
        if pool is not None:
            with pool._lock:
                pool.update_active_connections_for_reconnect()
                pool.disconnect_free_connections()
        client.nodes_manager.move_node_to_end_of_cached_nodes(node.name)
        client.nodes_manager.initialize(last_failed_node_name=node.name)

    @staticmethod
    def remaining(
        client: Any, args: tuple[Any, ...], kwargs: dict[str, Any], slot: int, was_default: bool, error: Exception
    ) -> Any:
        """redis-py's outer retry loop, minus the attempt the lean path already made.

        Only errors redis-py retries (its ``ERRORS_ALLOW_RETRY``, matched by exact type as it
        does) are retried, at most ``retry.get_retries()`` times in all, with no pause
        between attempts (redis-py's loop has none; its per-error pauses happen inside the
        attempt). Each attempt is redis-py's own, on the slot's primary as of that moment.
        """
        retries = client.retry.get_retries()
        while True:
            if retries <= 0 or type(error) not in client.ERRORS_ALLOW_RETRY:
                raise error
            retries -= 1
            if was_default:
                client.replace_default_node()  # as redis-py does after a failure on it
            try:
                node = client.nodes_manager.get_node_from_slot(slot)
                was_default = was_default or node == client.get_default_node()
                # target_nodes: redis-py runs exactly one attempt, on that node.
                return redis.cluster.RedisCluster.execute_command(client, *args, target_nodes=node, **kwargs)
            except Exception as exc:
                error = exc


class _DeferredRefresh:
    """What redis-py 8.2 does after an error: ask for a refresh, run by the next attempt once due."""

    @staticmethod
    def moved(client: Any, node: Any, error: MovedError) -> None:
        manager = client.nodes_manager
        redis.cluster._fill_missing_redirect_host(error, node.host)
        client.reinitialize_counter += 1
        manager.move_slot(error)
        if redis.cluster._should_request_refresh(client.reinitialize_steps, client.reinitialize_counter):
            manager._request_refresh(additional_startup_nodes_info=[manager.remap_host_port(error.host, error.port)])
            client.reinitialize_counter = 0

    @staticmethod
    def connection_failed(client: Any, node: Any) -> None:
        # The node's other connections are kept (redis-py 8.2 keeps them too); the failed one
        # was disconnected by redis-py's connection itself.
        client.nodes_manager.move_node_to_end_of_cached_nodes(node.name)
        client.nodes_manager._request_refresh(last_failed_node_name=node.name)

    @staticmethod
    def remaining(
        client: Any, args: tuple[Any, ...], kwargs: dict[str, Any], slot: int, was_default: bool, error: Exception
    ) -> Any:
        """redis-py 8.2's outer retry loop, minus the attempt the lean path already made: the
        retry back-off between attempts, the requested refresh before each, and the end of the
        retries when a refresh since the last failure reached no node."""
        manager = client.nodes_manager
        retries = client.retry.get_retries()
        failures = 0
        while True:
            if retries <= 0 or type(error) not in client.ERRORS_ALLOW_RETRY:
                raise redis.cluster._error_to_raise(manager._last_refresh_unreachable_args, error)
            retries -= 1
            failures += 1
            if was_default:
                client.replace_default_node()
            last_refresh_at = manager._last_refresh_at
            delay = client._retry_backoff_delay(client.retry, failures)
            if delay > 0:
                time.sleep(delay)
            if manager._refresh_requested:
                manager._run_requested_refresh(client.retry)
            outage = manager._error_instead_of_retry(error, last_refresh_at)
            if outage is not None:
                raise outage
            try:
                node = manager.get_node_from_slot(slot)
                was_default = node == client.get_default_node()
                return client._execute_command(node, *args, **kwargs)
            except Exception as exc:
                error = exc


class LeanRedisCluster(OneKeyCommands, redis.cluster.RedisCluster):
    """A ``RedisCluster`` with a lean single-key command path (see the module docstring)."""

    #: Each node's lean client polls for replies this many microseconds (:mod:`.spin`); 0: never.
    _spin_wait_us = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Empty until redis-py's __init__ is done: anything it runs goes through redis-py.
        self._lean_commands: dict[str, int] = {}
        self._lean_nodes: dict[str, LeanRedis] = {}
        self._lean_lock = threading.Lock()
        protocol = compat.cluster_protocol()
        self._lean_deferred = protocol == "deferred"
        self._lean_recovery: Any = _DeferredRefresh if self._lean_deferred else _ImmediateRefresh
        super().__init__(*args, **kwargs)
        conn_kwargs = self.nodes_manager.connection_kwargs
        resolver = getattr(self, "_policy_resolver", None)
        if (
            not self.read_from_replicas
            and getattr(self, "load_balancing_strategy", None) is None
            and conn_kwargs.get("protocol") in (None, 2, "2")
            and conn_kwargs.get("credential_provider") is None
            and getattr(self.nodes_manager, "_cache", None) is None
        ):
            special = set(self.cluster_response_callbacks)
            if resolver is not None:
                special.update(
                    name for name in LEAN_COMMANDS if not ordinary_policy(resolver.resolve(name.lower()), name)
                )
            self._lean_commands = lean_table(self, special)

    def set_response_callback(self, command: str, callback: Any) -> None:
        # A cluster-level callback is applied by redis-py's path only: give the command back to it.
        super().set_response_callback(command, callback)
        self._lean_commands = {k: v for k, v in self._lean_commands.items() if k.upper() != command.upper()}

    def _lean_client(self, node: redis.cluster.ClusterNode) -> LeanRedis | None:
        """The lean client of a node, on the node's current redis-py pool (None: not yet made)."""
        redis_node = node.redis_connection
        if redis_node is None:
            return None  # redis-py creates it on its path
        pool = redis_node.connection_pool
        lean = self._lean_nodes.get(node.name)
        if lean is not None and lean.connection_pool is pool:
            return lean
        with self._lean_lock:
            lean = self._lean_nodes.get(node.name)
            if lean is None or lean.connection_pool is not pool:
                # First use, or a topology refresh gave this node a new pool: never keep
                # sending on connections built from a pool redis-py no longer uses.
                if lean is not None:
                    lean.close()  # its idle connections (it shares the node's pool, never closes it)
                lean = LeanRedis(connection_pool=pool)
                if self._spin_wait_us:
                    lean._spinner = Spinner(self._spin_wait_us)  # one per node: its misses are its own
                # The node's own callbacks (the very dict redis-py's path parses with).
                lean.response_callbacks = redis_node.response_callbacks
                self._lean_nodes[node.name] = lean
            return lean

    def _lean_forget(self, name: str) -> None:
        with self._lean_lock:
            lean = self._lean_nodes.pop(name, None)
        if lean is not None:
            lean.close()

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        """Run a table command straight on its slot's primary; anything else through redis-py.

        The lean attempt is exactly redis-py's first attempt: one send on one connection of
        the slot's primary (the node connections' own retry policy allows no retry, as in
        redis-py). What happens after a failure keeps redis-py's accounting:

        * MOVED, ASK, TRYAGAIN: the node did not run the command, so re-running it is safe.
          In redis-py these are redirections inside one attempt that cost none of the
          client's retries; the command goes to redis-py's full path (after the same
          slot-map update redis-py makes on MOVED, so the next hop is the new owner).
        * ConnectionError / TimeoutError: the command may have run (a lost reply). redis-py
          counts this as one of its ``1 + retries`` attempts; so does this client. It does
          what redis-py does on that error (drop the node's idle connections, refresh the
          topology trying that node last) and then runs only the *remaining* attempts, each
          through redis-py (``target_nodes`` = the slot's primary at that time, which makes
          redis-py run exactly one attempt). A paused node therefore costs as many socket
          timeouts, and a command as many executions at most, as with plain RedisCluster.
        * CLUSTERDOWN: not run; redis-py sleeps 0.25 s, refreshes, and counts an attempt.
          Same here, then the remaining attempts as above.
        * Any other error reply (WRONGTYPE, NOSCRIPT...) and AuthenticationError: raised,
          as redis-py raises them, without a retry.
        """
        kind = self._lean_commands.get(args[0]) if args else None
        if kind is None or (kwargs and ("target_nodes" in kwargs or "nodes_flag" in kwargs)):
            return super().execute_command(*args, **kwargs)
        slot = lean_slot(kind, args, self.encoder.encode)
        if slot is None:
            return super().execute_command(*args, **kwargs)
        manager = self.nodes_manager
        # Read without redis-py's lock: initialize() swaps in a whole new dict, and
        # move_slot() edits a slot's list so that it is never empty. The worst a race can
        # give is the previous owner, which answers MOVED: redis-py's path then takes over.
        nodes = manager.slots_cache.get(slot)
        if not nodes:
            return super().execute_command(*args, **kwargs)  # not covered: redis-py refreshes
        node = nodes[0]
        lean = self._lean_client(node)
        if lean is None:
            return super().execute_command(*args, **kwargs)
        if self._lean_deferred and manager._refresh_requested:
            # redis-py 8.2: an earlier error asked for a topology refresh, which the next
            # attempt of any command runs once due -- this one, as in redis-py's loop.
            manager._run_requested_refresh(self.retry)
            nodes = manager.slots_cache.get(slot)
            if not nodes or nodes[0] is not node:
                return super().execute_command(*args, **kwargs)
        default = manager.default_node  # redis-py's "was the target the default node" check
        try:
            return lean.execute_command(*args, **kwargs)
        except MovedError as error:
            # Not run. redis-py's MOVED bookkeeping, then its path (which follows further
            # redirections itself).
            self._lean_recovery.moved(self, node, error)
            return super().execute_command(*args, **kwargs)
        except (AskError, TryAgainError):
            # Not run: the slot is migrating (ASK) or its keys are in flux (TRYAGAIN).
            # redis-py resends to the owner, gets the same answer and follows it.
            return super().execute_command(*args, **kwargs)
        except ClusterDownError as error:
            # Not run. As redis-py: wait, refresh, and count the attempt.
            time.sleep(0.25)
            manager.initialize()
            return self._lean_recovery.remaining(self, args, kwargs, slot, node == default, error)
        except _NOT_NODE_FAILURES:
            raise  # the credentials or a connection cap: redis-py neither refreshes nor retries
        except (ConnectionError, TimeoutError) as error:
            # May have run: as redis-py's _execute_command on that error, and the failure
            # counts as one attempt.
            self._lean_recovery.connection_failed(self, node)
            return self._lean_recovery.remaining(self, args, kwargs, slot, node == default, error)

    def close(self) -> None:
        with getattr(self, "_lean_lock", threading.Lock()):  # also runs from __del__ after a failed __init__
            leans = list(getattr(self, "_lean_nodes", {}).values())
            self._lean_nodes = {}
        for lean in leans:
            lean.close()
        super().close()
