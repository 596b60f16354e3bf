"""Coalesce concurrent ``aget()`` calls into one ``MGET`` per event-loop iteration.

An async view that fans out with ``asyncio.gather(cache.aget(a), cache.aget(b), ...)``
would otherwise send one GET per key, each on its own pooled connection, and the
per-command asyncio overhead dominates. Every ``aget`` issued before the loop gets to run
its next callback joins one batch; the batch is one ``MGET`` (per-slot ``MGET``s in one
pipeline on Cluster), and each caller gets its own key's raw value back. A lone ``aget``
costs one extra loop iteration, and it is still a single GET.

Batches are per event loop and per client configuration (not per backend instance:
Django may build one backend per task), and carry raw bytes only, so backends with
different serializers can share them. ``OPTIONS["ASYNC_BATCHING"] = False`` turns this off.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from .. import connections

_Key = tuple[connections.ConnectionSpec, bool]
_pending: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_Key, list[tuple[str, asyncio.Future[Any]]]]] = (
    weakref.WeakKeyDictionary()
)


async def ready(client: Any) -> Any:
    """An initialised ``redis.asyncio`` Cluster client.

    redis-py 8.1 routes a keyed command sent before the client has loaded the slot map
    (``get_default_node()`` is still ``None``) to a random node; a burst of first commands
    then collects MOVED replies, and after ``reinitialize_steps`` of them the client closes
    every connection, failing the other in-flight commands. Initialising first (under the
    client's own lock) routes every command by its slot from the start.
    """
    if client._initialize:
        await client.initialize()
    return client


async def get(spec: connections.ConnectionSpec, replica: bool, key: str) -> Any:
    """The raw value of ``key`` (``None`` when missing), fetched with other callers' keys."""
    loop = asyncio.get_running_loop()
    per_loop = _pending.get(loop)
    if per_loop is None:
        per_loop = _pending.setdefault(loop, {})
    batch_key = (spec, replica)
    batch = per_loop.get(batch_key)
    if batch is None:
        batch = per_loop[batch_key] = []
        loop.call_soon(_flush, loop, per_loop, batch_key)
    # One future per caller: a cancelled caller cancels only its own.
    future = loop.create_future()
    batch.append((key, future))
    return await future


def _flush(
    loop: asyncio.AbstractEventLoop, per_loop: dict[_Key, list[tuple[str, asyncio.Future[Any]]]], batch_key: _Key
) -> None:
    batch = per_loop.pop(batch_key, None)
    if batch:
        # The task is referenced by the loop until done; the futures hold the results.
        loop.create_task(_fetch(batch_key, batch))


async def _fetch(batch_key: _Key, batch: list[tuple[str, asyncio.Future[Any]]]) -> None:
    spec, replica = batch_key
    keys = list(dict.fromkeys(key for key, _ in batch))  # each key once
    try:
        client = connections.async_client_for_spec(spec, replica=replica)
        if spec.topology == "cluster":
            await ready(client)
        if len(keys) == 1:
            values = [await client.get(keys[0])]
        elif spec.topology == "cluster":
            values = await client.mget_nonatomic(keys)
        else:
            values = await client.mget(keys)
    except asyncio.CancelledError:
        for _, future in batch:
            future.cancel()
        raise
    except Exception as exc:
        for _, future in batch:
            if not future.done():
                future.set_exception(exc)
                future.exception()  # retrieved here, so a batch nobody awaits any more logs nothing
        return
    found = dict(zip(keys, values, strict=True))
    for key, future in batch:
        if not future.done():
            future.set_result(found[key])
