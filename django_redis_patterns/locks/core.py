"""What the sync and async locks share: keys, script arguments, reply parsing, timing.

Only the I/O differs between :class:`~.lock.Lock` and :class:`~.lock.AsyncLock`; every
decision (how long to wait, what TTL a renewal sets, when a handle counts as lost) is made
here, once.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import math
import secrets
import threading
import time
from typing import Any

import redis.exceptions

from django_redis_patterns import conf as core_conf
from django_redis_patterns.client import connections, scripts

from . import conf
from .exceptions import LockUnavailable
from .owner import OwnerInfo, text, this_process

logger = logging.getLogger("django_redis_patterns.locks")

PACKAGE = "django_redis_patterns.locks"
ACQUIRE = scripts.load("acquire", package=PACKAGE)
RELEASE = scripts.load("release", package=PACKAGE)
EXTEND = scripts.load("extend", package=PACKAGE)
FENCE_FLOOR = scripts.load("fence_floor", package=PACKAGE)
FINISH_PERIOD = scripts.load("finish_period", package=PACKAGE)

#: How long an unclaimed wake-up stays in the list (ms). A waiter that was between its
#: failed attempt and its BLPOP when the release came still finds it.
WAKE_TTL_MS = 2000
#: Shortest blocking wait sent to Redis (seconds).
MIN_SLICE = 0.01

#: Errors meaning "Redis is not there right now" (as opposed to a bug or a bad argument).
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.ClusterError,
    redis.exceptions.TryAgainError,
)


@dataclasses.dataclass(frozen=True)
class LockKeys:
    """The keys of one lock name; all share the ``{name}`` hash tag (one Cluster slot)."""

    #: The lock itself: ``token|acquired_at_ms|renewals|ttl_ms|host|pid|argv``.
    lock: str
    #: Fencing counter, never expires.
    fence: str
    #: Wake-up list waiters BLPOP on.
    wake: str
    #: Set by waiters; release only pushes a wake-up when it exists.
    waiting: str

    @classmethod
    def for_name(cls, name: str, prefix: str | None = None) -> LockKeys:
        base = f"{conf.get().KEY_PREFIX if prefix is None else prefix}{{{name}}}"
        return cls(base, f"{base}:fence", f"{base}:wake", f"{base}:waiting")

    @property
    def acquire(self) -> list[str]:
        return [self.lock, self.fence, self.waiting]

    @property
    def release(self) -> list[str]:
        return [self.lock, self.wake, self.waiting, self.fence]


def validate_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"lock name must be a non-empty string, got {name!r}")
    if "{" in name or "}" in name:
        # The name becomes the {hash tag}; a brace inside would split the lock's keys over slots.
        raise ValueError(f"lock name must not contain '{{' or '}}', got {name!r}")
    return name


#: Longest ttl / period (seconds) a lock accepts: 18250 days. The scripts handle milliseconds
#: as Lua doubles and write the ttl into the lock's value with Lua's %.14g, exact only below
#: 1e14 ms (about 3170 years); Redis's own PX limit (~2**63 ms) is far above either.
MAX_TTL = 18250 * 86400


def validate_seconds(
    argument: str,
    value: Any,
    *,
    allow_none: bool = True,
    allow_zero: bool = False,
    maximum: float | None = None,
) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{argument} must be a number of seconds, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{argument} must be > 0{' or 0' if allow_zero else ''}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{argument} must be at most {maximum:.0f} seconds ({maximum / 86400:g} days), got {value!r}")
    return float(value)


def to_ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def new_token() -> str:
    return secrets.token_hex(16)


def acquire_args(token: str, ttl_ms: int, period_ms: int, waiting_ms: int = 0) -> list[Any]:
    """``waiting_ms``: a blocking waiter's marker lifetime, so a release knows to wake someone."""
    return [token, ttl_ms, period_ms, this_process(), waiting_ms]


def waiting_marker_ms() -> int:
    # A waiter re-attempts (refreshing the marker) at least every WAIT_SLICE seconds.
    return int(conf.get().WAIT_SLICE * 1000) + 2000


@dataclasses.dataclass(slots=True)  # not frozen: built on every acquire, and frozen init is slower
class Attempt:
    """The parsed reply of acquire.lua."""

    acquired: bool
    fence: int | None = None
    ttl_ms: int = 0
    redis_now_ms: int | None = None
    #: When not acquired: how long the current holder's lock still lives (ms, -2: gone).
    pttl_ms: int = 0
    owner: OwnerInfo | None = None

    @property
    def acquired_at(self) -> datetime.datetime | None:
        if self.redis_now_ms is None:
            return None
        return datetime.datetime.fromtimestamp(self.redis_now_ms / 1000, tz=datetime.UTC)


def parse_acquire(reply: list[Any]) -> Attempt:
    if int(reply[0]) == 1:
        return Attempt(True, fence=int(reply[1]), ttl_ms=int(reply[2]), redis_now_ms=int(reply[3]))
    pttl = int(reply[1])
    return Attempt(False, pttl_ms=pttl, owner=OwnerInfo.from_value(reply[2], reply[3], pttl if pttl >= 0 else None))


def release_args(token: str, *, force: bool = False, fencing_token: int | None = None) -> list[Any]:
    """``fencing_token``: lets the script tell a retried release (reply 2) from a lost lock."""
    return [token, WAKE_TTL_MS, "force" if force else "compare", "" if fencing_token is None else fencing_token]


#: release.lua's reply when the lock is gone but nobody took it since this hold.
RELEASED_ALREADY = 2


def extend_args(token: str, ms: int, *, keep_longer: bool = False, renewal: bool = False) -> list[Any]:
    return [token, ms, "max" if keep_longer else "set", 1 if renewal else 0]


def wait_limit(target: Target) -> float:
    """Longest single BLPOP: WAIT_SLICE, and below the socket timeout so it never fires first."""
    limit = conf.get().WAIT_SLICE
    spec = target if isinstance(target, connections.ConnectionSpec) else connections.spec_for_alias(target)
    socket_timeout = spec.socket_timeout
    if socket_timeout:
        limit = min(limit, socket_timeout / 2)
    return max(MIN_SLICE, limit)


def wait_slice(attempt: Attempt, deadline: float | None, limit: float) -> float | None:
    """Seconds to block on the wake-up list before trying again; None when the deadline passed.

    A waiter sleeps at most until the holder's lock would expire (the holder may have died
    without releasing: that is the polling fallback) and at most ``limit``.
    """
    wait = limit
    if attempt.pttl_ms >= 0:
        wait = min(wait, attempt.pttl_ms / 1000 + 0.002)
    if deadline is not None:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        wait = min(wait, left)
    return max(MIN_SLICE, wait)


#: Where a lock lives: a cache alias, or a ConnectionSpec (a cache backend that Django built
#: without telling it its alias passes ``connections.parse(LOCATION, OPTIONS)``).
Target = str | connections.ConnectionSpec


def resolve_alias(using: str | None) -> str:
    return core_conf.default_alias(using, "LOCKS")


def resolve_target(using: Target | None) -> Target:
    return using if isinstance(using, connections.ConnectionSpec) else resolve_alias(using)


def label(target: Target) -> str:
    """How a target is named in messages and logs (never with a password)."""
    return target if isinstance(target, str) else ",".join(target.display_nodes())


def sync_client(target: Target) -> Any:
    if isinstance(target, connections.ConnectionSpec):
        return connections.client_for_spec(target)
    return connections.get_redis(target)


async def async_client(target: Target) -> Any:
    if isinstance(target, connections.ConnectionSpec):
        return connections.async_client_for_spec(target)
    return await connections.aget_redis(target)


# -- incidents ----------------------------------------------------------------------------
_down: set[str] = set()
_down_lock = threading.Lock()


def unavailable(exc: BaseException, *, name: str, alias: str, command: str, log: bool = True) -> LockUnavailable:
    """Wrap a redis-py error, logging once per incident (until the alias answers again).

    ``log=False`` when the caller reports the error itself (a LockedCommand's one line).
    """
    with _down_lock:
        first = alias not in _down
        _down.add(alias)
    if first and log:
        logger.warning("Redis alias %r unreachable for lock %r (%s): %s", alias, name, command, exc)
    return LockUnavailable(
        f"cannot reach Redis (cache alias {alias!r}) to {command} lock {name!r}: {exc}",
        name=name,
        alias=alias,
        command=command,
    )


def answered(target: Target) -> None:
    """The target answered: end its incident, if one was open (the label is only built then)."""
    if _down:
        alias = label(target)
        with _down_lock:
            if alias in _down:
                _down.discard(alias)
                logger.warning("Redis alias %r answers again (locks)", alias)


def decode(value: Any) -> str | None:
    return None if value is None else text(value)
