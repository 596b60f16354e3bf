"""Redlock: one lock over several independent Redis primaries, held by a quorum (N//2+1).

Each attempt runs the same acquire script as :class:`~.lock.Lock` on every alias at once
(sent to all nodes, then all replies read: one round trip, no thread pool).
The lock is held when a quorum took it and ``validity = ttl - elapsed - drift`` is still
positive (drift = ``ttl * REDLOCK_DRIFT_FACTOR + 2 ms``); otherwise it is released on all
nodes and, when blocking, retried after a random delay. Release and extend go to every
node; extend needs a quorum too.

``AsyncRedlock`` is the asyncio twin (``async with``); both share every decision below and
differ only in I/O.

Fencing tokens: each node keeps its own counter; the handle's token is the highest value
the quorum returned, and nodes of the quorum that lag are raised to it (one extra script
call, only when counters diverged). Any later quorum overlaps this one in at least one
node, so the next holder's token is strictly higher.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any, cast

from redis.exceptions import NoScriptError

from django_redis_patterns.client import connections

from . import conf, core, signals
from .exceptions import LockError, LockLost, LockNotAcquired, LockUnavailable
from .lock import _HandleBase, _Renewer, _TaskRenewal, _ThreadRenewal
from .owner import OwnerInfo

#: Fixed part of the drift allowance (the Redlock spec's "2 ms").
DRIFT_FIXED = 0.002


class _RedlockHandleBase(_HandleBase):
    lock: Any

    def __init__(self, lock: Any, token: str, attempt: core.Attempt, started: float, validity: float):
        super().__init__(lock, token, attempt, started, ",".join(lock.using))
        self._expires = started + validity

    @property
    def validity(self) -> float:
        """Seconds the lock is still certainly held (by the local clock, drift allowed for)."""
        return max(0.0, self._expires - time.monotonic())

    def _extend_args(self, ttl: float | None, renewal: bool) -> tuple[float, list[Any]]:
        if self._released:
            raise LockError(f"lock {self.name!r} was released; it cannot be extended", name=self.name)
        seconds = (
            self.lock.ttl if ttl is None else core.validate_seconds("ttl", ttl, allow_none=False, maximum=core.MAX_TTL)
        )
        assert seconds is not None
        return seconds, core.extend_args(self.token, core.to_ms(seconds), renewal=renewal)

    def _extend_outcome(self, replies: dict[str, Any], seconds: float, started: float, renewal: bool) -> None:
        ok = sum(1 for reply in replies.values() if reply)
        validity = self.lock._validity(seconds, started)
        if ok < self.lock.quorum or validity <= 0:
            self._mark_lost()
            raise self._lost_error("it could be extended on a quorum")
        self._expires = started + validity
        self._ttl_ms = core.to_ms(seconds)
        if renewal:
            self.renewals += 1

    def _release_outcome(self, replies: dict[str, Any]) -> None:
        refused = sum(1 for reply in replies.values() if reply is not None and not int(reply))
        if refused > len(self.lock.using) - self.lock.quorum or self._lost:
            self._closing = False
            self._mark_lost()
            raise self._lost_error("it was released")
        self._report_released()

    def _begin_release(self) -> None:
        if self._released:
            raise LockError(f"lock {self.name!r} is already released", name=self.name)
        self._released = True
        self.lock._forget(self)


class RedlockHandle(_ThreadRenewal, _RedlockHandleBase):
    """A held :class:`Redlock`; the same API as :class:`~.lock.LockHandle`, plus ``validity``."""

    lock: Redlock

    def __init__(self, lock: Redlock, token: str, attempt: core.Attempt, started: float, validity: float):
        super().__init__(lock, token, attempt, started, validity)
        self._renewer: _Renewer | None = None

    def extend(self, ttl: float | None = None, *, _renewal: bool = False, _keep_longer: bool = False) -> None:
        """Set the TTL again on a quorum of nodes; ``LockLost`` without one."""
        seconds, args = self._extend_args(ttl, _renewal)
        started = time.monotonic()
        replies = self.lock._fanout(core.EXTEND, [self.lock.keys.lock], args, "extend")
        self._extend_outcome(replies, seconds, started, _renewal)

    def release(self) -> None:
        """Release the lock on every node."""
        self._stop_renewer()
        self._begin_release()
        self._release_outcome(
            self.lock._fanout(core.RELEASE, self.lock.keys.release, core.release_args(self.token), "release")
        )


class AsyncRedlockHandle(_TaskRenewal, _RedlockHandleBase):
    """A held :class:`AsyncRedlock`: ``await extend()``, ``await release()``, ``validity``."""

    lock: AsyncRedlock

    def __init__(self, lock: AsyncRedlock, token: str, attempt: core.Attempt, started: float, validity: float):
        super().__init__(lock, token, attempt, started, validity)
        self._renewer: asyncio.Task[None] | None = None

    async def extend(self, ttl: float | None = None, *, _renewal: bool = False, _keep_longer: bool = False) -> None:
        """Set the TTL again on a quorum of nodes; ``LockLost`` without one."""
        seconds, args = self._extend_args(ttl, _renewal)
        started = time.monotonic()
        replies = await self.lock._fanout(core.EXTEND, [self.lock.keys.lock], args, "extend")
        self._extend_outcome(replies, seconds, started, _renewal)

    async def release(self) -> None:
        """Release the lock on every node."""
        await self._stop_renewer()
        self._begin_release()
        replies = await self.lock._fanout(
            core.RELEASE, self.lock.keys.release, core.release_args(self.token), "release"
        )
        self._release_outcome(replies)


class _RedlockBase:
    """Parameters and every decision shared by :class:`Redlock` and :class:`AsyncRedlock`."""

    def __init__(
        self,
        name: str,
        *,
        using: Sequence[str],
        ttl: float = 30,
        blocking: bool = True,
        timeout: float | None = None,
        renew: bool = False,
        max_hold: float | None = None,
        retry_delay: float = 0.2,
    ):
        self.name = core.validate_name(name)
        if isinstance(using, str) or not using or not all(isinstance(a, str) for a in using):
            raise ValueError(f"using must be a list of cache aliases (independent Redis primaries), got {using!r}")
        if len(set(using)) != len(using):
            raise ValueError(f"using lists an alias twice: {list(using)!r}")
        self.using = list(using)
        self.quorum = len(self.using) // 2 + 1
        self.ttl = cast(float, core.validate_seconds("ttl", ttl, allow_none=False, maximum=core.MAX_TTL))
        if not isinstance(blocking, bool):
            raise ValueError(f"blocking must be True or False, got {blocking!r}")
        self.blocking = blocking
        self.timeout = core.validate_seconds("timeout", timeout, allow_zero=True)
        self.renew = bool(renew)
        self.max_hold = core.validate_seconds("max_hold", max_hold)
        self.retry_delay = cast(float, core.validate_seconds("retry_delay", retry_delay, allow_none=False))
        self.period = None
        self.keys = core.LockKeys.for_name(self.name)
        self.last_owner: OwnerInfo | None = None
        self._handle: Any = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} over {len(self.using)} nodes ttl={self.ttl:g}s>"

    def _validity(self, ttl: float, started: float) -> float:
        drift = ttl * conf.get().REDLOCK_DRIFT_FACTOR + DRIFT_FIXED
        return ttl - (time.monotonic() - started) - drift

    def _acquire_args(self, token: str) -> list[Any]:
        return core.acquire_args(token, core.to_ms(self.ttl), 0)

    def _tally(self, replies: dict[str, Any]) -> tuple[dict[str, core.Attempt], int]:
        """(nodes that granted the lock, nodes that answered at all)."""
        taken: dict[str, core.Attempt] = {}
        reachable = 0
        for alias, reply in replies.items():
            if reply is None:
                continue
            reachable += 1
            attempt = core.parse_acquire(reply)
            if attempt.acquired:
                taken[alias] = attempt
            elif attempt.owner is not None:
                self.last_owner = attempt.owner
        return taken, reachable

    @staticmethod
    def _lagging(taken: dict[str, core.Attempt]) -> tuple[int, list[str]]:
        """(the fencing token: the quorum's highest counter, nodes whose counter is lower)."""
        fence = max(a.fence or 0 for a in taken.values())
        return fence, [alias for alias, a in taken.items() if (a.fence or 0) < fence]

    def _granted(self, taken: dict[str, core.Attempt], fence: int, started: float) -> tuple[core.Attempt, float] | None:
        validity = self._validity(self.ttl, started)
        if len(taken) < self.quorum or validity <= 0:
            return None
        first = next(iter(taken.values()))
        return core.Attempt(True, fence=fence, ttl_ms=first.ttl_ms, redis_now_ms=first.redis_now_ms), validity

    def _unreachable(self) -> LockUnavailable:
        return LockUnavailable(
            f"cannot reach any of the Redis aliases {', '.join(self.using)} to acquire lock {self.name!r}",
            name=self.name,
            alias=",".join(self.using),
            command="acquire",
        )

    def _not_acquired(self) -> LockNotAcquired:
        within = f" within {self.timeout:g}s" if self.blocking and self.timeout is not None else ""
        return LockNotAcquired(
            f"Redlock {self.name!r} could not be acquired on a quorum of {self.quorum} of {len(self.using)} nodes"
            f"{within}",
            name=self.name,
            owner=self.last_owner,
        )

    def _start(self, blocking: bool | None, timeout: float | None) -> tuple[bool, float | None]:
        blocking = self.blocking if blocking is None else blocking
        timeout = self.timeout if timeout is None else core.validate_seconds("timeout", timeout, allow_zero=True)
        if self._handle is not None and not self._handle.released:
            raise LockError(f"{type(self).__name__} {self.name!r} is already held by this object (one per holder)")
        return blocking, None if timeout is None else time.monotonic() + timeout

    def _pause(self, deadline: float | None) -> float | None:
        """Random pause before the next attempt; None when the deadline has passed."""
        pause = random.uniform(0, self.retry_delay)
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            pause = min(pause, left)
        return pause

    def _won(self, handle: Any) -> Any:
        self._handle = handle
        if self.renew:
            handle._start_renewer()
        signals.lock_acquired.send(sender=type(self), name=self.name, handle=handle)
        return handle

    def handle(self) -> Any:
        if self._handle is None or self._handle.released:
            raise LockError(f"{type(self).__name__} {self.name!r} is not held", name=self.name)
        return self._handle

    @property
    def held(self) -> bool:
        return self._handle is not None and self._handle.held

    def _forget(self, handle: Any) -> None:
        if self._handle is handle:
            self._handle = None

    def _exit_error(self, error: BaseException, exc_type: type[BaseException] | None) -> None:
        if exc_type is None:
            raise error
        core.logger.warning("Redlock %r was lost while an exception propagated", self.name)


class Redlock(_RedlockBase):
    """``Redlock(name, using=["a", "b", "c"], ttl=30)``: a context manager with the Lock API."""

    _handle: RedlockHandle | None

    def _fanout(self, script: Any, keys: list[str], args: list[Any], command: str) -> dict[str, Any]:
        """Run a script on every node at once: send to all, then read all (one round trip, no threads).

        Returns alias -> reply, None for a node that could not be reached.
        """
        replies: dict[str, Any] = {}
        sent: list[tuple[str, Any, Any]] = []
        for alias in self.using:
            client = connections.get_redis(alias)
            pool = getattr(client, "connection_pool", None)
            if pool is None or connections.is_cluster(client) or not hasattr(pool, "get_connection"):
                replies[alias] = self._try(alias, script, keys, args, command)
                continue
            conn = None
            try:
                conn = pool.get_connection()
                conn.send_command("EVALSHA", script.sha, len(keys), *keys, *args)
                sent.append((alias, client, conn))
            except core.UNAVAILABLE_ERRORS as exc:
                if conn is not None:
                    conn.disconnect()
                    pool.release(conn)
                core.unavailable(exc, name=self.name, alias=alias, command=command)
                replies[alias] = None
        for alias, client, conn in sent:
            try:
                replies[alias] = conn.read_response()
                core.answered(alias)
            except NoScriptError:
                client.connection_pool.release(conn)
                conn = None
                replies[alias] = self._try(alias, script, keys, args, command)
            except core.UNAVAILABLE_ERRORS as exc:
                conn.disconnect()
                core.unavailable(exc, name=self.name, alias=alias, command=command)
                replies[alias] = None
            finally:
                if conn is not None:
                    client.connection_pool.release(conn)
        return replies

    def _try(self, alias: str, script: Any, keys: list[str], args: list[Any], command: str) -> Any:
        """Run on one node; None when the node is unreachable (logged once per incident)."""
        try:
            reply = script(connections.get_redis(alias), keys, args)
        except core.UNAVAILABLE_ERRORS as exc:
            core.unavailable(exc, name=self.name, alias=alias, command=command)
            return None
        core.answered(alias)
        return reply

    def _attempt(self, token: str) -> RedlockHandle | None:
        started = time.monotonic()
        taken, reachable = self._tally(
            self._fanout(core.ACQUIRE, self.keys.acquire, self._acquire_args(token), "acquire")
        )
        if len(taken) >= self.quorum:
            fence, lagging = self._lagging(taken)
            for alias in lagging:
                if self._try(alias, core.FENCE_FLOOR, [self.keys.fence], [fence], "acquire") is None:
                    del taken[alias]
            granted = self._granted(taken, fence, started)
            if granted is not None:
                return RedlockHandle(self, token, granted[0], started, granted[1])
        if taken:
            self._fanout(core.RELEASE, self.keys.release, core.release_args(token), "release")
        if reachable == 0:
            raise self._unreachable()
        return None

    def acquire(self, *, blocking: bool | None = None, timeout: float | None = None) -> bool:
        """Take the lock on a quorum of nodes; ``True`` if taken, ``False`` if not (no exception)."""
        return self._acquire(blocking, timeout) is not None

    def _acquire(self, blocking: bool | None, timeout: float | None) -> RedlockHandle | None:
        blocking, deadline = self._start(blocking, timeout)
        token = core.new_token()
        while True:
            handle = self._attempt(token)
            if handle is not None:
                return cast(RedlockHandle, self._won(handle))
            pause = self._pause(deadline) if blocking else None
            if pause is None:
                return None
            time.sleep(pause)

    def release(self) -> None:
        """Release the calling thread's hold on every node."""
        self.handle().release()

    def extend(self, ttl: float | None = None) -> None:
        """Set the calling thread's hold's TTL again on a quorum of nodes."""
        self.handle().extend(ttl)

    def __enter__(self) -> RedlockHandle:
        handle = self._acquire(None, None)
        if handle is None:
            raise self._not_acquired()
        return handle

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._handle is None or self._handle.released:
            return
        try:
            self._handle.release()
        except (LockLost, LockUnavailable) as error:
            self._exit_error(error, exc_type)


class AsyncRedlock(_RedlockBase):
    """Redlock on ``redis.asyncio``: ``async with AsyncRedlock(name, using=[...]) as held``."""

    _handle: AsyncRedlockHandle | None

    async def _try(self, alias: str, script: Any, keys: list[str], args: list[Any], command: str) -> Any:
        try:
            reply = await script.acall(await connections.aget_redis(alias), keys, args)
        except core.UNAVAILABLE_ERRORS as exc:
            core.unavailable(exc, name=self.name, alias=alias, command=command)
            return None
        core.answered(alias)
        return reply

    async def _fanout(self, script: Any, keys: list[str], args: list[Any], command: str) -> dict[str, Any]:
        """Every node concurrently (one round trip); alias -> reply, None when unreachable."""
        replies = await asyncio.gather(*(self._try(alias, script, keys, args, command) for alias in self.using))
        return dict(zip(self.using, replies, strict=True))

    async def _attempt(self, token: str) -> AsyncRedlockHandle | None:
        started = time.monotonic()
        replies = await self._fanout(core.ACQUIRE, self.keys.acquire, self._acquire_args(token), "acquire")
        taken, reachable = self._tally(replies)
        if len(taken) >= self.quorum:
            fence, lagging = self._lagging(taken)
            floors = await asyncio.gather(
                *(self._try(alias, core.FENCE_FLOOR, [self.keys.fence], [fence], "acquire") for alias in lagging)
            )
            for alias, floor in zip(lagging, floors, strict=True):
                if floor is None:
                    del taken[alias]
            granted = self._granted(taken, fence, started)
            if granted is not None:
                return AsyncRedlockHandle(self, token, granted[0], started, granted[1])
        if taken:
            await self._fanout(core.RELEASE, self.keys.release, core.release_args(token), "release")
        if reachable == 0:
            raise self._unreachable()
        return None

    async def acquire(self, *, blocking: bool | None = None, timeout: float | None = None) -> bool:
        """Take the lock on a quorum of nodes for the current task; ``True`` if taken."""
        return await self._acquire(blocking, timeout) is not None

    async def _acquire(self, blocking: bool | None, timeout: float | None) -> AsyncRedlockHandle | None:
        blocking, deadline = self._start(blocking, timeout)
        token = core.new_token()
        while True:
            handle = await self._attempt(token)
            if handle is not None:
                return cast(AsyncRedlockHandle, self._won(handle))
            pause = self._pause(deadline) if blocking else None
            if pause is None:
                return None
            await asyncio.sleep(pause)

    async def release(self) -> None:
        """Release the current task's hold on every node."""
        await self.handle().release()

    async def extend(self, ttl: float | None = None) -> None:
        """Set the current task's hold's TTL again on a quorum of nodes."""
        await self.handle().extend(ttl)

    async def __aenter__(self) -> AsyncRedlockHandle:
        handle = await self._acquire(None, None)
        if handle is None:
            raise self._not_acquired()
        return handle

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._handle is None or self._handle.released:
            return
        try:
            await self._handle.release()
        except (LockLost, LockUnavailable) as error:
            self._exit_error(error, exc_type)
