"""``LeanAsyncRedisCluster``: a ``redis.asyncio.cluster.RedisCluster`` whose common single-key
commands skip the outer layer of redis-py's per-command machinery.

Why: on redis-py 8.1 an asyncio ``RedisCluster.execute_command`` awaits a command-policy
resolver, ``_determine_slot`` (through the commands parser), ``_determine_nodes`` and
observability hooks before it reaches the node; that outer layer is about a fifth of an
asyncio Cluster GET over loopback. For the commands of :data:`~.leancluster.LEAN_COMMANDS`
the key is at a known position, so the slot is one CRC16 and the node one dict lookup.

Unlike the sync :class:`~.leancluster.LeanRedisCluster`, this client keeps everything below
that layer: the command goes to redis-py's own per-node ``_execute_command`` (MOVED, ASK,
TRYAGAIN, CLUSTERDOWN and connection-error bookkeeping, the node's connections, response
callbacks, maintenance notifications), and the loop around it is redis-py's retry loop for
one keyed command: at most ``1 + retries`` attempts, only for redis-py's
``ERRORS_ALLOW_RETRY`` (by exact type), a topology refresh before an attempt when a failure
asked for one, trying the failed node last -- as redis-py 8.0-8.1 run it, or as 8.2 does
(a refresh run once due, the retry's back-off between attempts, the outage check), whichever
:mod:`.compat` finds installed. What it drops is the outer loop's error
metrics (the per-node command metrics stay).

The lean path is taken only for table commands without ``target_nodes``, with replica
reads off (with them, redis-py picks a replica per read), once the client knows its
command table (computed at the first ``initialize()``: ``connections.aget_redis`` awaits it
before handing the client out).
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio.cluster

from . import compat
from .leancluster import LEAN_COMMANDS, OneKeyCommands, lean_slot, lean_table, ordinary_policy

__all__ = ["LeanAsyncRedisCluster"]


class LeanAsyncRedisCluster(OneKeyCommands, redis.asyncio.cluster.RedisCluster):  # type: ignore[misc]  # redis-py's own bases disagree on command_info
    """An asyncio ``RedisCluster`` with a lean single-key command path (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        #: Commands with a lean path; empty until the first initialize() fills it.
        self._lean_commands: dict[str, int] = {}
        self._lean_known = False
        # redis-py 8.2 defers topology refreshes (client.compat picks the loop to mirror).
        self._lean_deferred = compat.async_cluster_protocol() == "deferred"
        super().__init__(*args, **kwargs)

    async def initialize(self, *args: Any, **kwargs: Any) -> LeanAsyncRedisCluster:
        await super().initialize(*args, **kwargs)
        if not self._lean_known:
            self._lean_known = True
            if not self.read_from_replicas and self.load_balancing_strategy is None:
                resolver = self._policy_resolver
                special = {
                    name for name in LEAN_COMMANDS if not ordinary_policy(await resolver.resolve(name.lower()), name)
                }
                self._lean_commands = lean_table(self, special)
        return self

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        kind = self._lean_commands.get(args[0]) if args else None  # type: ignore[call-overload]
        if kind is None or (kwargs and "target_nodes" in kwargs):
            return await super().execute_command(*args, **kwargs)
        slot = lean_slot(kind, args, self.encoder.encode)
        if slot is None:
            return await super().execute_command(*args, **kwargs)
        if self._lean_deferred:
            return await self._lean_execute_deferred(slot, args, kwargs)
        return await self._lean_execute(slot, args, kwargs)

    async def _lean_execute_deferred(self, slot: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """redis-py 8.2's ``execute_command`` loop, for one command on one slot.

        Step for step as 8.2's loop with ``target_nodes`` unset and a keyed command: before
        each attempt the refresh a failure asked for (once due), and after a failure the end
        of the retries when a refresh since reached no node; the slot's primary; redis-py's
        per-node ``_execute_command``; only ``ERRORS_ALLOW_RETRY`` errors retried, with the
        retry's back-off between attempts; the error redis-py raises when it gives up.
        """
        manager = self.nodes_manager
        retries = self.retry.get_retries()
        failures = 0
        last_error: Exception | None = None
        last_refresh_at = None
        while True:
            if self._initialize_due():
                await self.initialize()
            if last_error is not None:
                outage = manager._error_instead_of_retry(last_error, last_refresh_at)
                if outage is not None:
                    raise outage
            is_default = False
            try:
                node = manager.get_node_from_slot(slot)
                is_default = node == self.get_default_node()
                return await self._execute_command(node, *args, **kwargs)
            except Exception as error:
                if retries <= 0 or type(error) not in self.ERRORS_ALLOW_RETRY:
                    raise redis.asyncio.cluster._error_to_raise(manager._last_refresh_unreachable_args, error)
                if is_default:
                    self.replace_default_node()
                retries -= 1
                failures += 1
                last_error = error
                last_refresh_at = manager._last_refresh_at
                delay = self._retry_backoff_delay(self.retry, failures)
                if delay > 0:
                    await asyncio.sleep(delay)

    async def _lean_execute(self, slot: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """redis-py's ``execute_command`` retry loop, for one command on one slot.

        Step for step as redis-py 8.1's loop with ``target_nodes`` unset and a keyed command:
        refresh first when a failure asked for it (failed node tried last; the default node
        replaced when it was the target), pick the slot's primary, run redis-py's per-node
        ``_execute_command`` (which follows redirections itself), retry only its
        ``ERRORS_ALLOW_RETRY`` errors, ``retries`` times at most.
        """
        retries = self.retry.get_retries()
        node = None
        last_failed = None
        while True:
            if self._initialize:
                await self.initialize(last_failed_node_name=last_failed)
                last_failed = None
                if node is not None and node == self.get_default_node():
                    self.replace_default_node()
            try:
                node = self.nodes_manager.get_node_from_slot(slot)
                return await self._execute_command(node, *args, **kwargs)
            except Exception as error:
                if retries <= 0 or type(error) not in self.ERRORS_ALLOW_RETRY:
                    raise
                retries -= 1
                last_failed = getattr(error, "last_failed_node_name", None)
