"""What a cache method does when Redis fails: one exception type, or the fallback value.

Every public method of the backend is wrapped by :func:`guarded`. A redis-py error
(connection refused or reset, timeout, ``READONLY`` during a failover, Cluster down, a
refused command) becomes:

* with ``OPTIONS["IGNORE_EXCEPTIONS"] = True``: the method's fallback (reads return the
  caller's default, writes ``False``);
* otherwise :class:`CacheError`, with the redis-py error as ``__cause__``. The error raised
  is also an instance of the redis-py class a django-redis user catches (django-redis lets
  redis-py's errors through): ``except redis.exceptions.ConnectionError`` still catches a
  refused connection, ``except redis.exceptions.TimeoutError`` a timeout, ``except
  redis.exceptions.RedisError`` any of them.

Either way one WARNING per incident goes to the ``django_redis_patterns.cache`` logger,
naming the alias and the command; the next success ends the incident (logged at INFO).
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, RedisClusterException, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..client import instrument
from ..exceptions import RedisUnavailable

logger = logging.getLogger("django_redis_patterns.cache")

#: redis-py raises both; RedisClusterException ("cannot connect to any node") is not a RedisError.
REDIS_ERRORS = (RedisError, RedisClusterException)


class CacheError(RedisUnavailable, RedisError):
    """A cache operation failed in Redis: unreachable, too slow, read-only, or refused.

    ``alias`` and ``command`` say where; ``__cause__`` is the redis-py exception. Also a
    ``redis.exceptions.RedisError``; the subclasses below add the specific redis-py class.
    """


class CacheConnectionError(CacheError, RedisConnectionError):
    """Redis could not be reached (also ``redis.exceptions.ConnectionError``)."""


class CacheTimeoutError(CacheError, RedisTimeoutError):
    """Redis did not answer in time (also ``redis.exceptions.TimeoutError``)."""


class CacheReadOnlyError(CacheError, ReadOnlyError):
    """A write reached a replica, e.g. during a failover (also ``redis.exceptions.ReadOnlyError``)."""


class CacheResponseError(CacheError, ResponseError):
    """Redis refused the command (also ``redis.exceptions.ResponseError``)."""


#: Most specific first: ReadOnlyError is a ResponseError; redis-py's TimeoutError is not a
#: ConnectionError, but some of its connection errors are both (checked in this order).
_RAISED_AS: tuple[tuple[type[BaseException], type[CacheError]], ...] = (
    (RedisTimeoutError, CacheTimeoutError),
    (RedisConnectionError, CacheConnectionError),
    (ReadOnlyError, CacheReadOnlyError),
    (ResponseError, CacheResponseError),
)


def error_class(exc: BaseException) -> type[CacheError]:
    """The CacheError subclass that is also the redis-py class of ``exc``."""
    for redis_class, cache_class in _RAISED_AS:
        if isinstance(exc, redis_class):
            return cache_class
    return CacheError


#: (alias, connection spec) pairs currently in an incident; read without the lock on the hot path.
_failing: set[tuple[str, Any]] = set()
_failing_lock = threading.Lock()


def record_failure(alias: str, spec: Any, command: str, exc: BaseException, ignored: bool, quiet: bool = False) -> None:
    with _failing_lock:
        if (alias, spec) in _failing:
            return
        _failing.add((alias, spec))
    if quiet:  # the caller logs every ignored error itself (LOG_IGNORED_EXCEPTIONS)
        return
    logger.warning(
        "cache %r: Redis failed on %s (%s: %s); %s until it answers again",
        alias,
        command,
        type(exc).__name__,
        exc,
        "returning defaults (IGNORE_EXCEPTIONS)" if ignored else "raising CacheError",
        extra={"alias": alias, "command": command},
    )


def record_success(alias: str, spec: Any) -> None:
    with _failing_lock:
        if (alias, spec) not in _failing:
            return
        _failing.discard((alias, spec))
    logger.info("cache %r: Redis answers again", alias, extra={"alias": alias})


def in_incident(alias: str, spec: Any) -> bool:
    return (alias, spec) in _failing


F = TypeVar("F", bound=Callable[..., Any])


def guarded(command: str, fallback: Callable[..., Any] = lambda *a, **kw: False) -> Callable[[F], F]:
    """Wrap a backend method (sync or ``async def``) with the failure policy above.

    ``fallback(*args, **kwargs)`` receives the method's own arguments and returns what
    the method returns when the error is ignored.
    """

    def decorate(method: F) -> F:
        operation = method.__name__.lstrip("_")
        if inspect.iscoroutinefunction(method):

            @functools.wraps(method)
            async def async_wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
                try:
                    if not instrument.LISTENERS:
                        result = await method(self, *args, **kwargs)
                    elif instrument.OPERATION_LISTENERS:  # spans: the operation is reported
                        async with instrument.operation("cache", operation, alias=self.alias):
                            result = await method(self, *args, **kwargs)
                    else:  # the commands inside are the cache's
                        tag = self._operation_tags.get(operation) or self._operation_tag(operation)
                        result = await instrument.arun_as(tag, method, self, *args, **kwargs)
                except REDIS_ERRORS as exc:
                    return self._failed(exc, command, fallback(*args, **kwargs))
                if _failing:
                    record_success(self.alias, self._spec)
                return result

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                if not instrument.LISTENERS:
                    result = method(self, *args, **kwargs)
                elif instrument.OPERATION_LISTENERS:  # spans: the operation is reported
                    with instrument.operation("cache", operation, alias=self.alias):
                        result = method(self, *args, **kwargs)
                else:  # the commands inside are the cache's
                    tag = self._operation_tags.get(operation) or self._operation_tag(operation)
                    result = instrument.run_as(tag, method, self, *args, **kwargs)
            except REDIS_ERRORS as exc:
                return self._failed(exc, command, fallback(*args, **kwargs))
            if _failing:
                record_success(self.alias, self._spec)
            return result

        return wrapper  # type: ignore[return-value]

    return decorate


def raise_or_fallback(
    alias: str,
    spec: Any,
    ignore: bool,
    exc: BaseException,
    command: str,
    fallback: Any,
    ignored_logger: logging.Logger | None = None,
) -> Any:
    if isinstance(exc, CacheError):  # raised by a guarded method this one called: already logged
        if ignore:
            return fallback
        raise exc
    per_call = ignore and ignored_logger is not None
    record_failure(alias, spec, command, exc, ignore, quiet=per_call)
    if ignore:
        if per_call:
            assert ignored_logger is not None
            # django-redis's message and level, with the traceback, once per ignored error.
            ignored_logger.error("Exception ignored", exc_info=exc)
        return fallback
    message = f"cache {alias!r}: Redis failed on {command}: {exc}"
    raise error_class(exc)(message, alias=alias, command=command) from exc
