"""Settings of REDIS_PATTERNS["LOCKS"]: one field per key, with its default."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class LockSettings:
    #: Cache alias; None falls back to REDIS_PATTERNS["USING"].
    USING: str | None = None
    #: Prefix of every lock key: ``<prefix>{<name>}`` (+ ``:fence``, ``:owner``, ``:wake``).
    KEY_PREFIX: str = "drp:lock:"
    #: Longest single blocking wait (seconds) before a waiter re-checks the lock: the polling
    #: fallback for a holder that died without releasing. Also capped at half the alias's
    #: socket timeout, so a socket timeout never cuts a wait short.
    WAIT_SLICE: float = 1.0
    #: Redlock clock drift allowance: validity = ttl - elapsed - (ttl * factor + 2 ms).
    REDLOCK_DRIFT_FACTOR: float = 0.01
    #: Exit status of a LockedCommand with ``lock_on_busy = "fail"`` (75 = EX_TEMPFAIL).
    BUSY_EXIT_CODE: int = 75
    #: Exit status of a LockedCommand that could not reach Redis (69 = EX_UNAVAILABLE).
    UNAVAILABLE_EXIT_CODE: int = 69
    #: Exit status of a LockedCommand whose lock was lost while it ran.
    LOST_EXIT_CODE: int = 1


def get() -> LockSettings:
    from django_redis_patterns import conf

    return conf.section("LOCKS")  # type: ignore[no-any-return]
