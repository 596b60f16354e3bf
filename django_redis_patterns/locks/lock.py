"""Locks on one Redis (standalone, Sentinel or Cluster): :class:`Lock` and :class:`AsyncLock`.

Acquire is ``SET NX PX`` plus ``INCR`` of a per-name fencing counter in one Lua call;
release is compare-token-and-delete (and wakes one waiter); extend is
compare-token-and-PEXPIRE. A lock object may be shared: each thread (``Lock``) or task
(``AsyncLock``) gets its own hold with its own token, so one can never release another's.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import inspect
import threading
import time
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Any, NoReturn, TypeVar, cast

from django_redis_patterns.client import connections, instrument

from . import core, signals
from .exceptions import LockError, LockLost, LockNotAcquired, LockUnavailable
from .owner import OwnerInfo

F = TypeVar("F", bound=Callable[..., Any])

#: Serialises the first report of a loss: the renewer and its deadline timer may both see it.
_loss_lock = threading.Lock()


def _outside_lock_operation() -> bool:
    """True unless a lock operation (an acquire) is already in progress here."""
    op = instrument.current_operation()
    return op is None or op.pattern != "locks"


class _HandleBase:
    """One acquisition: its token, fencing token and what is known about it."""

    #: The Lock, AsyncLock or Redlock this is a hold of.
    lock: Any

    def __init__(self, lock: Any, token: str, attempt: core.Attempt, started: float, target: core.Target):
        self.lock = lock
        self.name = lock.name
        self._target = target
        self._attempt = attempt
        self.token = token
        #: Strictly increasing per lock name across all holders (see docs/locks.md for limits).
        self.fencing_token: int = attempt.fence or 0
        self.renewals = 0
        self._started = started
        self._ttl_ms = attempt.ttl_ms
        #: Local monotonic time by which the lock has certainly expired in Redis unless
        #: extended: measured from *before* the acquire call was sent.
        self._expires = started + attempt.ttl_ms / 1000
        self._period_end = self._expires if lock.period else None
        #: Slot mode: end of the period the lock was taken in, Unix ms by the Redis clock.
        self._period_end_ms = (
            attempt.redis_now_ms + attempt.ttl_ms if lock.period and attempt.redis_now_ms is not None else None
        )
        self._lost = False
        self._released = False
        self._closing = False

    # Both computed on first access: most holds never look, and the hot path stays lean.
    @property
    def alias(self) -> str:
        """Where the lock lives (cache alias, or the nodes when given a ConnectionSpec)."""
        return core.label(self._target)

    @property
    def acquired_at(self) -> datetime.datetime | None:
        """When the lock was taken, by the Redis clock (UTC)."""
        return self._attempt.acquired_at

    @property
    def held(self) -> bool:
        """True while this holder still owns the lock as far as it can know without asking Redis."""
        return not self._lost and not self._released and time.monotonic() < self._expires

    @property
    def lost(self) -> bool:
        """True once the lock is known (renewal refused) or bound (TTL passed) to be gone."""
        return self._lost or (not self._released and time.monotonic() >= self._expires)

    @property
    def released(self) -> bool:
        return self._released

    @property
    def period_over(self) -> bool:
        """Slot mode: whether the period the lock was taken in has ended."""
        return self._period_end is not None and time.monotonic() >= self._period_end

    def __repr__(self) -> str:
        state = "released" if self._released else "lost" if self.lost else "held"
        return f"<{type(self).__name__} {self.name!r} fencing_token={self.fencing_token} {state}>"

    # -- decisions shared by sync and async -------------------------------------------
    def _next_wait(self) -> float:
        return min(self.lock.ttl, self._ttl_ms / 1000) / 3

    def _renewal_ms(self) -> int | None:
        """TTL the next renewal sets; None once ``max_hold`` is reached (let it expire)."""
        ms = core.to_ms(self.lock.ttl)
        if self.lock.max_hold is not None:
            left = self.lock.max_hold - (time.monotonic() - self._started)
            if left <= 0:
                return None
            ms = min(ms, core.to_ms(left))
        return ms

    def _extended(self, started: float, ms: int, renewal: bool) -> None:
        self._ttl_ms = ms
        self._expires = started + ms / 1000
        if renewal:
            self.renewals += 1
            if instrument.LISTENERS:
                instrument.emit("locks", "renew", self.alias, name=self.name, ttl=ms / 1000)

    def _mark_lost(self) -> bool:
        """Record the loss once; returns True the first time (so the signal goes out once)."""
        with _loss_lock:
            if self._lost or self._closing:
                return False
            self._lost = True
        signals.lock_lost.send(sender=type(self.lock), name=self.name, handle=self)
        if instrument.LISTENERS:
            instrument.emit("locks", "lost", self.alias, name=self.name, held=time.monotonic() - self._started)
        return True

    def _report_released(self) -> None:
        signals.lock_released.send(sender=type(self.lock), name=self.name, handle=self)
        if instrument.LISTENERS:
            # How long the lock was held: from before the acquiring call was sent to now.
            held = time.monotonic() - self._started
            instrument.emit("locks", "release", self.alias, name=self.name, held=held, renewals=self.renewals)

    def _lost_if_not_renewed(self, expires: float) -> None:
        """The deadline timer of a renewal: the local expiry came and the renewal has not
        moved it, so the lock is lost now, whatever the (possibly hung) renewal call says later."""
        if self._expires == expires and not self._released:
            self._mark_lost()

    def _unreachable_on_release(self, exc: LockUnavailable) -> NoReturn:
        """Redis is away at release: a handle already past its TTL was lost; else report the outage."""
        if self._lost or time.monotonic() >= self._expires:
            self._closing = False
            self._mark_lost()
            raise self._lost_error("it was released") from exc
        raise exc

    def _release_args(self) -> list[Any]:
        return core.release_args(self.token, fencing_token=self.fencing_token)

    def _release_failed(self, done: int) -> bool:
        """Whether release.lua's reply means the hold was lost before this release.

        ``RELEASED_ALREADY``: the lock is gone and nobody took it since this hold, which is what
        a retried release finds after its first reply was lost. That is a clean release while
        the hold was still valid by our clock; past its TTL the hold had lapsed, so it was lost.
        """
        if self._lost or not done:
            return True
        return done == core.RELEASED_ALREADY and time.monotonic() >= self._expires

    def _lost_error(self, what: str) -> LockLost:
        return LockLost(
            f"lock {self.name!r} (fencing token {self.fencing_token}) was lost before {what}: it expired or "
            "another holder took it",
            name=self.name,
        )


class _ThreadRenewal:
    """Starts and stops the renewer thread of a sync handle (Lock and Redlock)."""

    _renewer: _Renewer | None
    _closing: bool

    def _start_renewer(self) -> None:
        self._renewer = _Renewer(self)
        self._renewer.start()

    def _stop_renewer(self) -> None:
        self._closing = True
        if self._renewer is not None:
            self._renewer.stop()
            self._renewer = None


class LockHandle(_ThreadRenewal, _HandleBase):
    """A held :class:`Lock`: ``token``, ``fencing_token``, ``held``, ``lost``, ``extend()``, ``release()``."""

    lock: Lock

    def __init__(self, lock: Lock, token: str, attempt: core.Attempt, started: float, target: core.Target):
        super().__init__(lock, token, attempt, started, target)
        self._renewer: _Renewer | None = None

    def extend(self, ttl: float | None = None, *, _renewal: bool = False, _keep_longer: bool = False) -> None:
        """Set the lock's TTL to ``ttl`` seconds (default: the lock's ttl). Raises LockLost if not held."""
        if self._released:
            raise LockError(f"lock {self.name!r} was released; it cannot be extended", name=self.name)
        seconds = (
            self.lock.ttl if ttl is None else core.validate_seconds("ttl", ttl, allow_none=False, maximum=core.MAX_TTL)
        )
        assert seconds is not None
        started = time.monotonic()
        args = core.extend_args(self.token, core.to_ms(seconds), keep_longer=_keep_longer, renewal=_renewal)
        ms = int(self.lock._run(core.EXTEND, self._target, [self.lock.keys.lock], args, "extend"))
        if not ms:
            self._mark_lost()
            raise self._lost_error("it could be extended")
        self._extended(started, ms, _renewal)

    def release(self) -> None:
        """Delete the lock if still ours and wake a waiter. Raises LockLost if it was not ours any more."""
        if self._released:
            raise LockError(f"lock {self.name!r} is already released", name=self.name)
        self._stop_renewer()
        self._released = True
        self.lock._forget(self)
        keys = self.lock.keys
        try:
            done = self.lock._run(core.RELEASE, self._target, keys.release, self._release_args(), "release")
        except LockUnavailable as exc:
            self._unreachable_on_release(exc)
        if self._release_failed(int(done)):
            self._closing = False
            self._mark_lost()
            raise self._lost_error("it was released")
        self._report_released()

    def detach(self) -> None:
        """Stop renewing and forget the lock without deleting it: it lives out its TTL."""
        self._stop_renewer()
        self._released = True
        self.lock._forget(self)

    def finish_period(self) -> None:
        """Slot mode, job done: the key stays until its period ends (Redis clock), then frees the next one.

        Deleted at once if the period is already over. Raises LockLost if it was not ours any more.
        """
        if self._period_end_ms is None:
            raise LockError(f"lock {self.name!r} was not taken in slot mode (period=...)", name=self.name)
        self.detach()
        done = self.lock._run(
            core.FINISH_PERIOD, self._target, [self.lock.keys.lock], [self.token, self._period_end_ms], "release"
        )
        if not int(done) or self._lost:
            self._closing = False
            self._mark_lost()
            raise self._lost_error("the period was marked done")
        self._report_released()


class _Renewer(threading.Thread):
    """Extends a held lock every ttl/3 until stopped, ``max_hold`` is reached, or the lock is lost."""

    def __init__(self, handle: Any):
        super().__init__(name=f"lock-renewer:{handle.name}", daemon=True)
        # A weak reference: an abandoned handle must not be kept alive (and renewed) forever.
        self._handle = weakref.ref(handle)
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()
        if self is not threading.current_thread():
            self.join(timeout=5)

    def run(self) -> None:
        handle = self._handle()
        wait = handle._next_wait() if handle else 0
        del handle
        while not self._stopped.wait(wait):
            handle = self._handle()
            if handle is None or handle._closing:
                return
            ms = handle._renewal_ms()
            if ms is None:
                return
            keep_longer = handle.lock.period is not None and not handle.period_over
            # The renewal may hang in a socket read (a stalled server) for up to two socket
            # timeouts: a timer reports the loss at the local expiry, not when the call returns.
            deadline = _deadline_timer(handle)
            try:
                handle.extend(ms / 1000, _renewal=True, _keep_longer=keep_longer)
            except LockLost:
                return
            except LockUnavailable:
                if time.monotonic() >= handle._expires:
                    handle._mark_lost()
                    return
                # Redis is away for now: retry sooner, while the lock may still be alive.
                wait = max(core.MIN_SLICE, min(1.0, (handle._expires - time.monotonic()) / 3))
                continue
            finally:
                deadline.cancel()
            if handle._lost:  # reported lost by the timer: a late success does not undo that
                return
            wait = handle._next_wait()
            del handle


def _deadline_timer(handle: Any) -> threading.Timer:
    """A daemon timer that marks ``handle`` lost at its current local expiry (cancel it once
    the renewal returns). It holds the handle weakly, like the renewer."""
    ref = weakref.ref(handle)
    expires = handle._expires

    def fire() -> None:
        target = ref()
        if target is not None:
            target._lost_if_not_renewed(expires)

    timer = threading.Timer(max(0.0, expires - time.monotonic()), fire)
    timer.daemon = True
    timer.start()
    return timer


class _LockBase:
    """Parameters, validation and keys shared by :class:`Lock` and :class:`AsyncLock`."""

    def __init__(
        self,
        name: str,
        *,
        ttl: float = 30,
        blocking: bool = True,
        timeout: float | None = None,
        renew: bool = False,
        using: core.Target | None = None,
        max_hold: float | None = None,
        period: float | None = None,
    ):
        self.name = core.validate_name(name)
        self.ttl = cast(float, core.validate_seconds("ttl", ttl, allow_none=False, maximum=core.MAX_TTL))
        if not isinstance(blocking, bool):
            raise ValueError(f"blocking must be True or False, got {blocking!r}")
        self.blocking = blocking
        self.timeout = core.validate_seconds("timeout", timeout, allow_zero=True)
        if not isinstance(renew, bool):
            raise ValueError(f"renew must be True or False, got {renew!r}")
        self.renew = renew
        if using is not None and not isinstance(using, str | connections.ConnectionSpec):
            raise ValueError(f"using must be a cache alias (str) or None, got {using!r}")
        self.using = using
        self.max_hold = core.validate_seconds("max_hold", max_hold)
        #: Slot mode: the TTL runs to the end of the current period of this many seconds.
        self.period = core.validate_seconds("period", period, maximum=core.MAX_TTL)
        self.keys = core.LockKeys.for_name(self.name)
        #: The holder seen by the last failed attempt of any owner (for messages).
        self.last_owner: OwnerInfo | None = None
        #: Log unreachable Redis (once per incident); off when the caller reports it itself.
        self.log_unavailable = True

    def _params(self) -> dict[str, Any]:
        return {
            "ttl": self.ttl,
            "blocking": self.blocking,
            "timeout": self.timeout,
            "renew": self.renew,
            "using": self.using,
            "max_hold": self.max_hold,
            "period": self.period,
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} ttl={self.ttl:g}s>"

    def _acquire_args(self, token: str, waiting_ms: int) -> list[Any]:
        period_ms = core.to_ms(self.period) if self.period else 0
        return core.acquire_args(token, core.to_ms(self.ttl), period_ms, waiting_ms)

    def _not_acquired(self, timeout: float | None) -> LockNotAcquired:
        owner = self.last_owner
        held_by = f" (held {owner.describe()})" if owner else ""
        how = "without waiting" if timeout is None else f"within {timeout:g}s"
        return LockNotAcquired(f"lock {self.name!r} could not be acquired {how}{held_by}", name=self.name, owner=owner)

    def _unavailable(self, exc: BaseException, target: core.Target, command: str) -> LockUnavailable:
        label = core.label(target)
        return core.unavailable(exc, name=self.name, alias=label, command=command, log=self.log_unavailable)

    def _alias_label(self) -> str:
        try:
            return core.label(core.resolve_target(self.using))
        except Exception:  # a bad alias: the acquire itself raises the clear error
            return str(self.using)

    def _report_acquire(self, op: Any, handle: _HandleBase | None, waited: float) -> None:
        """Report an acquire: ``wait`` is the seconds from the first attempt to the answer."""
        op.set(acquired=handle is not None, wait=waited)
        alias = op.alias if isinstance(op, instrument.Operation) else self._alias_label()  # a listener left meanwhile
        instrument.emit("locks", "acquire", alias, name=self.name, acquired=handle is not None, wait=waited)

    def _acquired(self, handle: _HandleBase) -> None:
        signals.lock_acquired.send(sender=type(self), name=self.name, handle=handle)

    # Holds are per owner: a thread for Lock, an asyncio task for AsyncLock. Subclasses set
    # ``_holds`` (owner -> handle) and ``_owner()``; the read-only view below is shared.
    _holds: Any

    @staticmethod
    def _owner() -> Any:
        raise NotImplementedError

    def _current(self) -> Any:
        return self._holds.get(self._owner())

    @property
    def held(self) -> bool:
        handle = self._current()
        return handle is not None and bool(handle.held)

    @property
    def token(self) -> str | None:
        handle = self._current()
        return handle.token if handle else None

    @property
    def fencing_token(self) -> int | None:
        handle = self._current()
        return handle.fencing_token if handle else None

    def _forget(self, handle: _HandleBase) -> None:
        for key, value in list(self._holds.items()):
            if value is handle:
                del self._holds[key]


class Lock(_LockBase):
    """A lock over one Redis; a context manager, a decorator and an ``acquire()``/``release()`` object.

    >>> with lock("reports:nightly", ttl=60, renew=True) as held:
    ...     write_report(fence=held.fencing_token)
    """

    def __init__(self, name: str, **kwargs: Any):
        super().__init__(name, **kwargs)
        self._holds: dict[int, LockHandle] = {}

    _owner = staticmethod(threading.get_ident)

    # -- I/O ---------------------------------------------------------------------------
    def _run(self, script: Any, target: core.Target, keys: list[str], args: list[Any], command: str) -> Any:
        if instrument.LISTENERS and _outside_lock_operation():
            with instrument.operation("locks", command, alias=core.label(target), name=self.name):
                return self._run_unobserved(script, target, keys, args, command)
        return self._run_unobserved(script, target, keys, args, command)

    def _run_unobserved(self, script: Any, target: core.Target, keys: list[str], args: list[Any], command: str) -> Any:
        try:
            reply = script(core.sync_client(target), keys, args)
        except core.UNAVAILABLE_ERRORS as exc:
            raise self._unavailable(exc, target, command) from exc
        core.answered(target)
        return reply

    def _wait(self, target: core.Target, seconds: float) -> None:
        try:
            core.sync_client(target).blpop([self.keys.wake], timeout=seconds)
        except core.UNAVAILABLE_ERRORS as exc:
            raise self._unavailable(exc, target, "wait for") from exc

    # -- API ---------------------------------------------------------------------------
    def acquire(self, *, blocking: bool | None = None, timeout: float | None = None) -> bool:
        """Take the lock for the calling thread; False if busy (non-blocking) or not free within ``timeout``.

        Raises :class:`LockUnavailable` when Redis cannot be reached.
        """
        return self._acquire(blocking, timeout) is not None

    def _acquire(self, blocking: bool | None, timeout: float | None) -> LockHandle | None:
        if not instrument.LISTENERS:
            return self._acquire_unobserved(blocking, timeout)
        started = time.monotonic()
        with instrument.operation("locks", "acquire", alias=self._alias_label(), name=self.name) as op:
            handle = self._acquire_unobserved(blocking, timeout)
            self._report_acquire(op, handle, time.monotonic() - started)
        return handle

    def _acquire_unobserved(self, blocking: bool | None, timeout: float | None) -> LockHandle | None:
        blocking = self.blocking if blocking is None else blocking
        timeout = self.timeout if timeout is None else core.validate_seconds("timeout", timeout, allow_zero=True)
        current = self._current()
        if current is not None and not current.released:
            raise LockError(f"lock {self.name!r} is already held by this thread (locks are not reentrant)")
        alias = core.resolve_target(self.using)
        deadline = None if timeout is None else time.monotonic() + timeout
        limit: float | None = None  # looked up on the first wait only: the free path stays lean
        token = core.new_token()
        args = self._acquire_args(token, core.waiting_marker_ms() if blocking else 0)
        while True:
            started = time.monotonic()
            reply = self._run(
                core.ACQUIRE,
                alias,
                self.keys.acquire,
                args,
                "acquire",
            )
            attempt = core.parse_acquire(reply)
            if attempt.acquired:
                handle = LockHandle(self, token, attempt, started, alias)
                self._holds[threading.get_ident()] = handle
                if self.renew:
                    handle._start_renewer()
                self._acquired(handle)
                return handle
            self.last_owner = attempt.owner
            if not blocking:
                return None
            if limit is None:
                limit = core.wait_limit(alias)
            wait = core.wait_slice(attempt, deadline, limit)
            if wait is None:
                return None
            self._wait(alias, wait)

    def handle(self) -> LockHandle:
        """The calling thread's hold; LockError if it holds none."""
        handle = self._current()
        if handle is None:
            raise LockError(f"lock {self.name!r} is not held by this thread", name=self.name)
        return handle

    def release(self) -> None:
        """Release the calling thread's hold (LockError if none; LockLost if it had expired)."""
        self.handle().release()

    def extend(self, ttl: float | None = None) -> None:
        """Set the calling thread's hold's TTL again (``ttl`` or the lock's); ``LockLost`` if it is not ours."""
        self.handle().extend(ttl)

    def __enter__(self) -> LockHandle:
        handle = self._acquire(None, None)
        if handle is None:
            raise self._not_acquired(self.timeout if self.blocking else None)
        return handle

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        handle = self._current()
        if handle is None or handle.released:
            return
        exit_handle(handle, exc_type)

    def __call__(self, func: F) -> F:
        """Decorator: each call runs under the lock (an ``async def`` gets an AsyncLock)."""
        if inspect.iscoroutinefunction(func):
            return AsyncLock(self.name, **self._params())(func)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return func(*args, **kwargs)

        return cast(F, wrapper)


def exit_handle(handle: LockHandle, exc_type: type[BaseException] | None) -> None:
    """Release on leaving a ``with`` block: LockLost only if nothing else is propagating."""
    try:
        handle.release()
    except (LockLost, LockUnavailable):
        if exc_type is None:
            raise
        core.logger.warning("lock %r was lost while an exception propagated", handle.name)


# ---------------------------------------------------------------------------------------
# asyncio
# ---------------------------------------------------------------------------------------


class _TaskRenewal:
    """Starts and stops the renewer task of an async handle (AsyncLock and AsyncRedlock)."""

    _renewer: asyncio.Task[None] | None
    _closing: bool

    def _start_renewer(self) -> None:
        self._renewer = asyncio.get_running_loop().create_task(_renew_task(weakref.ref(self)))

    async def _stop_renewer(self) -> None:
        self._closing = True
        task, self._renewer = self._renewer, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                # Only swallow the renewer's own cancellation, not one aimed at us.
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise


class AsyncLockHandle(_TaskRenewal, _HandleBase):
    """A held :class:`AsyncLock`; ``await extend()``, ``await release()``."""

    lock: AsyncLock

    def __init__(self, lock: AsyncLock, token: str, attempt: core.Attempt, started: float, target: core.Target):
        super().__init__(lock, token, attempt, started, target)
        self._renewer: asyncio.Task[None] | None = None

    async def extend(self, ttl: float | None = None, *, _renewal: bool = False, _keep_longer: bool = False) -> None:
        """Set the TTL again (``ttl`` or the lock's); ``LockLost`` if the lock is not ours any more."""
        if self._released:
            raise LockError(f"lock {self.name!r} was released; it cannot be extended", name=self.name)
        seconds = (
            self.lock.ttl if ttl is None else core.validate_seconds("ttl", ttl, allow_none=False, maximum=core.MAX_TTL)
        )
        assert seconds is not None
        started = time.monotonic()
        args = core.extend_args(self.token, core.to_ms(seconds), keep_longer=_keep_longer, renewal=_renewal)
        ms = int(await self.lock._run(core.EXTEND, self._target, [self.lock.keys.lock], args, "extend"))
        if not ms:
            self._mark_lost()
            raise self._lost_error("it could be extended")
        self._extended(started, ms, _renewal)

    async def release(self) -> None:
        """Release the lock (compare token, delete, wake one waiter); ``LockLost`` if it was not ours."""
        if self._released:
            raise LockError(f"lock {self.name!r} is already released", name=self.name)
        await self._stop_renewer()
        self._released = True
        self.lock._forget(self)
        keys = self.lock.keys
        try:
            done = await self.lock._run(core.RELEASE, self._target, keys.release, self._release_args(), "release")
        except LockUnavailable as exc:
            self._unreachable_on_release(exc)
        if self._release_failed(int(done)):
            self._closing = False
            self._mark_lost()
            raise self._lost_error("it was released")
        self._report_released()

    async def detach(self) -> None:
        """Stop renewing and forget this hold locally, without touching Redis."""
        await self._stop_renewer()
        self._released = True
        self.lock._forget(self)


async def _renew_task(ref: weakref.ref[Any]) -> None:
    handle = ref()
    wait = handle._next_wait() if handle else 0
    del handle
    while True:
        await asyncio.sleep(wait)
        handle = ref()
        if handle is None or handle._closing:
            return
        ms = handle._renewal_ms()
        if ms is None:
            return
        keep_longer = handle.lock.period is not None and not handle.period_over
        # As in the thread renewer: the loss is reported at the local expiry even while the
        # renewal awaits a stalled server (the loop runs the callback; the call is not cancelled).
        deadline = asyncio.get_running_loop().call_later(
            max(0.0, handle._expires - time.monotonic()), _lost_if_not_renewed, ref, handle._expires
        )
        try:
            await handle.extend(ms / 1000, _renewal=True, _keep_longer=keep_longer)
        except LockLost:
            return
        except LockUnavailable:
            if time.monotonic() >= handle._expires:
                handle._mark_lost()
                return
            wait = max(core.MIN_SLICE, min(1.0, (handle._expires - time.monotonic()) / 3))
            continue
        finally:
            deadline.cancel()
        if handle._lost:
            return
        wait = handle._next_wait()
        del handle


def _lost_if_not_renewed(ref: weakref.ref[Any], expires: float) -> None:
    handle = ref()
    if handle is not None:
        handle._lost_if_not_renewed(expires)


class AsyncLock(_LockBase):
    """:class:`Lock` for asyncio: ``async with alock("x") as held``; holds are per task."""

    def __init__(self, name: str, **kwargs: Any):
        super().__init__(name, **kwargs)
        # Per task, not per thread: tasks of one loop share a thread, and a lock object shared
        # by two tasks must never let one release the other's hold.
        self._holds: weakref.WeakKeyDictionary[asyncio.Task[Any], AsyncLockHandle] = weakref.WeakKeyDictionary()

    @staticmethod
    def _owner() -> asyncio.Task[Any]:
        task = asyncio.current_task()
        if task is None:
            raise LockError("AsyncLock must be used from inside an asyncio task")
        return task

    async def _run(self, script: Any, target: core.Target, keys: list[str], args: list[Any], command: str) -> Any:
        if instrument.LISTENERS and _outside_lock_operation():
            async with instrument.operation("locks", command, alias=core.label(target), name=self.name):
                return await self._run_unobserved(script, target, keys, args, command)
        return await self._run_unobserved(script, target, keys, args, command)

    async def _run_unobserved(
        self, script: Any, target: core.Target, keys: list[str], args: list[Any], command: str
    ) -> Any:
        try:
            reply = await script.acall(await core.async_client(target), keys, args)
        except core.UNAVAILABLE_ERRORS as exc:
            raise self._unavailable(exc, target, command) from exc
        core.answered(target)
        return reply

    async def _wait(self, target: core.Target, seconds: float) -> None:
        try:
            await (await core.async_client(target)).blpop([self.keys.wake], timeout=seconds)
        except core.UNAVAILABLE_ERRORS as exc:
            raise self._unavailable(exc, target, "wait for") from exc

    async def acquire(self, *, blocking: bool | None = None, timeout: float | None = None) -> bool:
        """Take the lock for the current task; ``True`` if taken, ``False`` if busy (no exception)."""
        return await self._acquire(blocking, timeout) is not None

    async def _acquire(self, blocking: bool | None, timeout: float | None) -> AsyncLockHandle | None:
        if not instrument.LISTENERS:
            return await self._acquire_unobserved(blocking, timeout)
        started = time.monotonic()
        async with instrument.operation("locks", "acquire", alias=self._alias_label(), name=self.name) as op:
            handle = await self._acquire_unobserved(blocking, timeout)
            self._report_acquire(op, handle, time.monotonic() - started)
        return handle

    async def _acquire_unobserved(self, blocking: bool | None, timeout: float | None) -> AsyncLockHandle | None:
        blocking = self.blocking if blocking is None else blocking
        timeout = self.timeout if timeout is None else core.validate_seconds("timeout", timeout, allow_zero=True)
        owner = self._owner()
        current = self._holds.get(owner)
        if current is not None and not current.released:
            raise LockError(f"lock {self.name!r} is already held by this task (locks are not reentrant)")
        alias = core.resolve_target(self.using)
        deadline = None if timeout is None else time.monotonic() + timeout
        limit: float | None = None  # looked up on the first wait only: the free path stays lean
        token = core.new_token()
        args = self._acquire_args(token, core.waiting_marker_ms() if blocking else 0)
        while True:
            started = time.monotonic()
            reply = await self._run(
                core.ACQUIRE,
                alias,
                self.keys.acquire,
                args,
                "acquire",
            )
            attempt = core.parse_acquire(reply)
            if attempt.acquired:
                handle = AsyncLockHandle(self, token, attempt, started, alias)
                self._holds[owner] = handle
                if self.renew:
                    handle._start_renewer()
                self._acquired(handle)
                return handle
            self.last_owner = attempt.owner
            if not blocking:
                return None
            if limit is None:
                limit = core.wait_limit(alias)
            wait = core.wait_slice(attempt, deadline, limit)
            if wait is None:
                return None
            await self._wait(alias, wait)

    def handle(self) -> AsyncLockHandle:
        """The current task's hold, or ``None``."""
        handle = self._current()
        if handle is None:
            raise LockError(f"lock {self.name!r} is not held by this task", name=self.name)
        return handle

    async def release(self) -> None:
        """Release the current task's hold."""
        await self.handle().release()

    async def extend(self, ttl: float | None = None) -> None:
        """Set the current task's hold's TTL again."""
        await self.handle().extend(ttl)

    async def __aenter__(self) -> AsyncLockHandle:
        handle = await self._acquire(None, None)
        if handle is None:
            raise self._not_acquired(self.timeout if self.blocking else None)
        return handle

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        handle = self._current()
        if handle is None or handle.released:
            return
        try:
            await handle.release()
        except (LockLost, LockUnavailable):
            if exc_type is None:
                raise
            core.logger.warning("lock %r was lost while an exception propagated", handle.name)

    def __call__(self, func: F) -> F:
        if not inspect.iscoroutinefunction(func):
            raise TypeError(f"AsyncLock decorates async functions; use lock() for {func.__qualname__}")

        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            async with self:
                return await func(*args, **kwargs)

        return cast(F, wrapper)


def lock(
    name: str,
    *,
    ttl: float = 30,
    blocking: bool = True,
    timeout: float | None = None,
    renew: bool = False,
    using: core.Target | None = None,
    max_hold: float | None = None,
) -> Lock:
    """A :class:`Lock`: ``with lock("name") as held:`` or ``@lock("name")``.

    ``ttl`` seconds until Redis forgets a holder that died; ``blocking=False`` or a
    ``timeout`` make a busy lock raise :class:`LockNotAcquired`; ``renew=True`` extends it
    every ttl/3 in a background thread, for at most ``max_hold`` seconds in total.
    """
    return Lock(name, ttl=ttl, blocking=blocking, timeout=timeout, renew=renew, using=using, max_hold=max_hold)


def alock(
    name: str,
    *,
    ttl: float = 30,
    blocking: bool = True,
    timeout: float | None = None,
    renew: bool = False,
    using: core.Target | None = None,
    max_hold: float | None = None,
) -> AsyncLock:
    """An :class:`AsyncLock`: ``async with alock("name") as held:`` (same options as :func:`lock`)."""
    return AsyncLock(name, ttl=ttl, blocking=blocking, timeout=timeout, renew=renew, using=using, max_hold=max_hold)
