"""Redis locks (django_redis_patterns.locks).

``lock()``/``alock()`` over one Redis (standalone, Sentinel, Cluster), ``Redlock``/``AsyncRedlock`` over several
independent primaries, fencing tokens for Django models, and locked management commands
(:mod:`django_redis_patterns.locks.commands`). See docs/locks.md.
"""

from __future__ import annotations

from .exceptions import LockError, LockLost, LockNotAcquired, LockUnavailable
from .fencing import FencingTokenField, fenced_update
from .lock import AsyncLock, AsyncLockHandle, Lock, LockHandle, alock, lock
from .owner import OwnerInfo
from .redlock import AsyncRedlock, AsyncRedlockHandle, Redlock, RedlockHandle
from .signals import lock_acquired, lock_lost, lock_released

__all__ = [
    "AsyncLock",
    "AsyncLockHandle",
    "AsyncRedlock",
    "AsyncRedlockHandle",
    "FencingTokenField",
    "Lock",
    "LockError",
    "LockHandle",
    "LockLost",
    "LockNotAcquired",
    "LockUnavailable",
    "OwnerInfo",
    "Redlock",
    "RedlockHandle",
    "alock",
    "fenced_update",
    "lock",
    "lock_acquired",
    "lock_lost",
    "lock_released",
]
