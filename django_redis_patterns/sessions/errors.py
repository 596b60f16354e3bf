"""The engine's errors, and "log once per incident" for an unreachable Redis."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import redis.exceptions

from ..exceptions import RedisPatternsError, RedisUnavailable

logger = logging.getLogger("django_redis_patterns.sessions")

#: redis-py errors meaning "Redis cannot serve this now" (down, slow, failing over),
#: as opposed to a bug in the command. ReadOnlyError: a demoted primary during failover.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.ClusterError,
    redis.exceptions.RedisClusterException,
    redis.exceptions.TryAgainError,
)


class SessionUnavailable(RedisUnavailable, redis.exceptions.ConnectionError):
    """The session store's Redis could not be reached (``ON_ERROR = "raise"``).

    Also ``redis.exceptions.ConnectionError``, what code written for Django's cache session
    engine on its ``RedisCache`` catches."""


class SessionNotReplicated(RedisPatternsError):
    """A write reached the primary but fewer than ``MIN_REPLICAS`` replicas acknowledged it in time."""

    def __init__(self, message: str, *, acknowledged: int, wanted: int):
        super().__init__(message)
        self.acknowledged = acknowledged
        self.wanted = wanted


class _Incidents:
    """Aliases currently failing; the first failure logs, the first success after it logs recovery."""

    def __init__(self) -> None:
        self._open: set[str] = set()
        self._lock = threading.Lock()

    def failed(self, alias: str, command: str, exc: BaseException, on_error: str) -> None:
        with self._lock:
            if alias in self._open:
                return
            self._open.add(alias)
        logger.error(
            "Session store unavailable (alias=%r, command=%s): %s: %s; ON_ERROR=%r%s",
            alias,
            command,
            type(exc).__name__,
            exc,
            on_error,
            " (requests get an empty, unsaved session)" if on_error == "anonymous" else "",
        )

    def succeeded(self, alias: str) -> None:
        if not self._open:  # the common case: no lock
            return
        with self._lock:
            if alias not in self._open:
                return
            self._open.discard(alias)
        logger.warning("Session store reachable again (alias=%r)", alias)

    def reset(self) -> None:
        with self._lock:
            self._open.clear()


incidents = _Incidents()


@contextmanager
def guard(alias: str, command: str) -> Iterator[None]:
    """Turn "Redis unavailable" errors into :class:`SessionUnavailable`, logged once per incident.

    Works around an ``await`` too: the exception of the awaited call passes through here.
    """
    try:
        yield
    except UNAVAILABLE as exc:
        incidents.failed(alias, command, exc, _on_error())
        raise SessionUnavailable(
            f"session store unavailable (cache alias {alias!r}, {command}): {exc}", alias=alias, command=command
        ) from exc
    incidents.succeeded(alias)


def _on_error() -> str:
    from .conf import get

    return get().ON_ERROR
