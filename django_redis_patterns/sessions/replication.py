"""Writes followed by ``WAIT`` when ``MIN_REPLICAS`` asks for it.

On one server (standalone, Sentinel's primary) the command and its ``WAIT`` go in one
non-transactional pipeline: one round trip. On Cluster ``WAIT`` must reach the node that
owns the key, so it is a second call routed there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..client.connections import is_cluster
from .errors import SessionNotReplicated, logger
from .runtime import Runtime


def check(rt: Runtime, acknowledged: Any, command: str) -> None:
    acked = int(acknowledged)
    if acked >= rt.min_replicas:
        return
    message = (
        f"session write ({command}) acknowledged by {acked} of {rt.min_replicas} replica(s) within "
        f"{rt.wait_ms} ms (cache alias {rt.alias!r})"
    )
    if rt.on_replication_timeout == "raise":
        raise SessionNotReplicated(message, acknowledged=acked, wanted=rt.min_replicas)
    logger.warning("%s; the write is on the primary only and may be lost if it fails now", message)


def write(rt: Runtime, client: Any, key: str, command: str, queue: Callable[[Any], Any]) -> Any:
    """Run ``queue(target)`` (one command on ``target``), then WAIT if configured; its reply."""
    if not rt.min_replicas:
        return queue(client)
    if is_cluster(client):
        reply = queue(client)
        acked = client.execute_command("WAIT", rt.min_replicas, rt.wait_ms, target_nodes=client.get_node_from_key(key))
    else:
        pipe = client.pipeline(transaction=False)
        queue(pipe)
        pipe.execute_command("WAIT", rt.min_replicas, rt.wait_ms)
        reply, acked = pipe.execute()
    check(rt, acked, command)
    return reply


async def awrite(rt: Runtime, client: Any, key: str, command: str, queue: Callable[[Any], Any]) -> Any:
    """Async twin of :func:`write`; ``queue(target)`` returns an awaitable on a client, nothing on a pipeline."""
    if not rt.min_replicas:
        return await queue(client)
    if is_cluster(client):
        reply = await queue(client)
        acked = await client.execute_command(
            "WAIT", rt.min_replicas, rt.wait_ms, target_nodes=client.get_node_from_key(key)
        )
    else:
        pipe = client.pipeline(transaction=False)
        queue(pipe)  # redis.asyncio pipelines queue synchronously
        pipe.execute_command("WAIT", rt.min_replicas, rt.wait_ms)
        reply, acked = await pipe.execute()
    check(rt, acked, command)
    return reply
