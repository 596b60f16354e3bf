"""Errors raised by django_redis_patterns.locks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import redis.exceptions

from django_redis_patterns.exceptions import RedisPatternsError, RedisUnavailable

if TYPE_CHECKING:
    from .owner import OwnerInfo


class LockError(RedisPatternsError):
    """Base class of lock errors; also raised for misuse (releasing a lock you do not hold)."""

    def __init__(self, message: str, *, name: str | None = None):
        super().__init__(message)
        self.name = name


class LockNotAcquired(LockError):
    """A non-blocking or timed-out acquisition found the lock held.

    ``owner`` describes the holder (host, pid, command line, since when) when Redis knew it.
    """

    def __init__(self, message: str, *, name: str | None = None, owner: OwnerInfo | None = None):
        super().__init__(message, name=name)
        self.owner = owner


class LockLost(LockError):
    """The lock expired or was taken over while it was believed held."""


class LockUnavailable(RedisUnavailable, LockError, redis.exceptions.ConnectionError):
    """Redis could not be reached to acquire, extend or release a lock.

    Also ``redis.exceptions.ConnectionError``, what code written for redis-py's ``Lock`` catches."""

    def __init__(self, message: str, *, name: str | None = None, alias: str | None = None, command: str | None = None):
        RedisUnavailable.__init__(self, message, alias=alias, command=command)
        self.name = name
