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

from ..client import connections

_batchers: dict[tuple[connections.ConnectionSpec, bool], Batcher] = {}


def batcher_for(spec: connections.ConnectionSpec, replica: bool) -> Batcher:
    """The shared :class:`Batcher` of a client configuration (built once)."""
    batcher = _batchers.get((spec, replica))
    if batcher is None:
        batcher = _batchers.setdefault((spec, replica), Batcher(spec, replica))
    return batcher


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


class Batcher:
    """Collects the keys asked for during one loop iteration and fetches them with one MGET."""

    def __init__(self, spec: connections.ConnectionSpec, replica: bool) -> None:
        self.spec = spec
        self.replica = replica
        self._open: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[tuple[str, asyncio.Future[Any]]]] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, key: str) -> asyncio.Future[Any]:
        """A future of ``key``'s raw value (``None`` when missing); await it.

        A plain function returning a future (not a coroutine): one fewer frame per call.
        One future per caller, so a cancelled caller cancels only its own.
        """
        loop = asyncio.get_running_loop()
        batch = self._open.get(loop)
        if batch is None:
            batch = self._open[loop] = []
            loop.call_soon(self._flush, loop, batch)
        future = loop.create_future()
        batch.append((key, future))
        return future

    def _flush(self, loop: asyncio.AbstractEventLoop, batch: list[tuple[str, asyncio.Future[Any]]]) -> None:
        if self._open.get(loop) is batch:
            del self._open[loop]
        # The loop keeps the task alive until it is done; the futures carry the results.
        loop.create_task(self._fetch(batch))

    async def _fetch(self, batch: list[tuple[str, asyncio.Future[Any]]]) -> None:
        spec = self.spec
        keys = list(dict.fromkeys(key for key, _ in batch))  # each key once
        try:
            client = connections.async_client_for_spec(spec, replica=self.replica)
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
