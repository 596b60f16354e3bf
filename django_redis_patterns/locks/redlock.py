"""Redlock: one lock over several independent Redis primaries, held by a quorum (N//2+1).

Each attempt runs the same acquire script as :class:`~.lock.Lock` on every alias at once
(sent to all nodes, then all replies read: one round trip, no thread pool).
The lock is held when a quorum took it and ``validity = ttl - elapsed - drift`` is still
positive (drift = ``ttl * REDLOCK_DRIFT_FACTOR + 2 ms``); otherwise it is released on all
nodes and, when blocking, retried after a random delay. Release and extend go to every
node; extend needs a quorum too.

Fencing tokens: each node keeps its own counter; the handle's token is the highest value
the quorum returned, and nodes of the quorum that lag are raised to it (one extra script
call, only when counters diverged). Any later quorum overlaps this one in at least one
node, so the next holder's token is strictly higher.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any, cast

from redis.exceptions import NoScriptError

from django_redis_patterns import connections

from . import conf, core, signals
from .exceptions import LockError, LockLost, LockNotAcquired, LockUnavailable
from .lock import _HandleBase, _Renewer, _ThreadRenewal, exit_handle
from .owner import OwnerInfo

#: Fixed part of the drift allowance (the Redlock spec's "2 ms").
DRIFT_FIXED = 0.002


class RedlockHandle(_ThreadRenewal, _HandleBase):
    """A held :class:`Redlock`; the same API as :class:`~.lock.LockHandle`, plus ``validity``."""

    lock: Redlock

    def __init__(self, lock: Redlock, token: str, attempt: core.Attempt, started: float, validity: float):
        super().__init__(lock, token, attempt, started, alias=",".join(lock.using))
        self._expires = started + validity
        self._renewer: _Renewer | None = None

    @property
    def validity(self) -> float:
        """Seconds the lock is still certainly held (by the local clock, drift allowed for)."""
        return max(0.0, self._expires - time.monotonic())

    def extend(self, ttl: float | None = None, *, _renewal: bool = False, _keep_longer: bool = False) -> None:
        if self._released:
            raise LockError(f"lock {self.name!r} was released; it cannot be extended", name=self.name)
        seconds = self.lock.ttl if ttl is None else core.validate_seconds("ttl", ttl, allow_none=False)
        assert seconds is not None
        started = time.monotonic()
        args = core.extend_args(self.token, core.to_ms(seconds), renewal=_renewal)
        replies = self.lock._fanout(core.EXTEND, [self.lock.keys.lock], args, "extend")
        ok = sum(1 for reply in replies.values() if reply)
        validity = self.lock._validity(seconds, started)
        if ok < self.lock.quorum or validity <= 0:
            self._mark_lost()
            raise self._lost_error("it could be extended on a quorum")
        self._expires = started + validity
        self._ttl_ms = core.to_ms(seconds)
        if _renewal:
            self.renewals += 1

    def release(self) -> None:
        if self._released:
            raise LockError(f"lock {self.name!r} is already released", name=self.name)
        self._stop_renewer()
        self._released = True
        self.lock._forget(self)
        refused = self.lock._release_all(self.token)
        if refused > len(self.lock.using) - self.lock.quorum or self._lost:
            self._closing = False
            self._mark_lost()
            raise self._lost_error("it was released")
        signals.lock_released.send(sender=type(self.lock), name=self.name, handle=self)


class Redlock:
    """``Redlock(name, using=["a", "b", "c"], ttl=30)``: a context manager with the Lock API."""

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
        self.ttl = cast(float, core.validate_seconds("ttl", ttl, allow_none=False))
        self.blocking = bool(blocking)
        self.timeout = core.validate_seconds("timeout", timeout, allow_zero=True)
        self.renew = bool(renew)
        self.max_hold = core.validate_seconds("max_hold", max_hold)
        self.retry_delay = cast(float, core.validate_seconds("retry_delay", retry_delay, allow_none=False))
        self.period = None
        self.keys = core.LockKeys.for_name(self.name)
        self.last_owner: OwnerInfo | None = None
        self._handle: RedlockHandle | None = None

    def __repr__(self) -> str:
        return f"<Redlock {self.name!r} over {len(self.using)} nodes ttl={self.ttl:g}s>"

    def _validity(self, ttl: float, started: float) -> float:
        drift = ttl * conf.get().REDLOCK_DRIFT_FACTOR + DRIFT_FIXED
        return ttl - (time.monotonic() - started) - drift

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

    def _release_all(self, token: str) -> int:
        """Release on every node; returns how many answered that the lock was not ours."""
        replies = self._fanout(core.RELEASE, self.keys.release, core.release_args(token), "release")
        return sum(1 for reply in replies.values() if reply is not None and not int(reply))

    def _attempt(self, token: str) -> RedlockHandle | LockUnavailable | None:
        started = time.monotonic()
        args = core.acquire_args(token, core.to_ms(self.ttl), 0)
        taken: dict[str, core.Attempt] = {}
        reachable = 0
        for alias, reply in self._fanout(core.ACQUIRE, self.keys.acquire, args, "acquire").items():
            if reply is None:
                continue
            reachable += 1
            attempt = core.parse_acquire(reply)
            if attempt.acquired:
                taken[alias] = attempt
            elif attempt.owner is not None:
                self.last_owner = attempt.owner
        if len(taken) >= self.quorum:
            fence = max(a.fence or 0 for a in taken.values())
            for alias, attempt in list(taken.items()):
                lagging = (attempt.fence or 0) < fence
                if lagging and self._try(alias, core.FENCE_FLOOR, [self.keys.fence], [fence], "acquire") is None:
                    del taken[alias]
            validity = self._validity(self.ttl, started)
            if len(taken) >= self.quorum and validity > 0:
                first = next(iter(taken.values()))
                merged = core.Attempt(True, fence=fence, ttl_ms=first.ttl_ms, redis_now_ms=first.redis_now_ms)
                return RedlockHandle(self, token, merged, started, validity)
        if taken:
            self._release_all(token)
        if reachable == 0:
            return LockUnavailable(
                f"cannot reach any of the Redis aliases {', '.join(self.using)} to acquire lock {self.name!r}",
                name=self.name,
                alias=",".join(self.using),
                command="acquire",
            )
        return None

    def acquire(self, *, blocking: bool | None = None, timeout: float | None = None) -> bool:
        return self._acquire(blocking, timeout) is not None

    def _acquire(self, blocking: bool | None, timeout: float | None) -> RedlockHandle | None:
        blocking = self.blocking if blocking is None else blocking
        timeout = self.timeout if timeout is None else core.validate_seconds("timeout", timeout, allow_zero=True)
        if self._handle is not None and not self._handle.released:
            raise LockError(f"Redlock {self.name!r} is already held by this object (use one object per holder)")
        deadline = None if timeout is None else time.monotonic() + timeout
        token = core.new_token()
        while True:
            result = self._attempt(token)
            if isinstance(result, LockUnavailable):
                raise result
            if result is not None:
                self._handle = result
                if self.renew:
                    result._start_renewer()
                signals.lock_acquired.send(sender=Redlock, name=self.name, handle=result)
                return result
            if not blocking:
                return None
            pause = random.uniform(0, self.retry_delay)
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                pause = min(pause, left)
            time.sleep(pause)

    def handle(self) -> RedlockHandle:
        if self._handle is None or self._handle.released:
            raise LockError(f"Redlock {self.name!r} is not held", name=self.name)
        return self._handle

    def release(self) -> None:
        self.handle().release()

    def extend(self, ttl: float | None = None) -> None:
        self.handle().extend(ttl)

    @property
    def held(self) -> bool:
        return self._handle is not None and self._handle.held

    def _forget(self, handle: RedlockHandle) -> None:
        if self._handle is handle:
            self._handle = None

    def __enter__(self) -> RedlockHandle:
        handle = self._acquire(None, None)
        if handle is None:
            raise LockNotAcquired(
                f"Redlock {self.name!r} could not be acquired on a quorum of {self.quorum} of "
                f"{len(self.using)} nodes"
                + ("" if self.blocking is False else f" within {self.timeout:g}s" if self.timeout is not None else ""),
                name=self.name,
                owner=self.last_owner,
            )
        return handle

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._handle is None or self._handle.released:
            return
        exit_handle(self._handle, exc_type)  # type: ignore[arg-type]


__all__ = ["Redlock", "RedlockHandle", "LockLost"]
