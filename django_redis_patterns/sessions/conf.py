"""Settings of REDIS_PATTERNS["SESSIONS"]: one field per key, with its default."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class SessionSettings:
    #: Not used by the session engine: it reads Django's own ``SESSION_CACHE_ALIAS``
    #: (one setting for one thing). Kept because every section has it.
    USING: str | None = None
    #: Prefix of every key the engine writes; the cache alias's ``KEY_PREFIX`` (if any)
    #: goes in front of it. Never put a ``{hash tag}`` here: every session would land in one
    #: Cluster slot.
    KEY_PREFIX: str = "session:"
    #: Redis unreachable: ``"raise"`` (``SessionUnavailable``, a 500 for the request) or
    #: ``"anonymous"`` (the request carries on with an empty session that is never saved;
    #: nothing stored is touched, the cookie is kept).
    ON_ERROR: str = "raise"
    #: After each write, ``WAIT`` until this many replicas acknowledged it (0: don't wait).
    MIN_REPLICAS: int = 0
    #: Seconds ``WAIT`` may block; keep it well below the alias's socket timeout.
    MIN_REPLICAS_TIMEOUT: float = 0.5
    #: Fewer replicas than ``MIN_REPLICAS`` acknowledged in time: ``"log"`` (a warning, the
    #: request succeeds) or ``"raise"`` (``SessionNotReplicated``; the write did happen on
    #: the primary).
    ON_REPLICATION_TIMEOUT: str = "log"
    #: Keep the per-user session index (``user_sessions()``, ``logout_everywhere()``...).
    INDEX: bool = True
    #: Seconds between refreshes of a session's index entry ("last seen" granularity).
    INDEX_REFRESH: int = 60
    #: Dotted path of ``f(request) -> str | None`` giving the client's IP for the index;
    #: None reads ``REMOTE_ADDR`` (behind a proxy, point this at your own function).
    CLIENT_IP: str | None = None
    #: Seconds a logged-in user stays cached by ``sessions.auth.CachedModelBackend`` (saves and
    #: deletes of the user invalidate it at once; ``QuerySet.update()`` needs ``forget_user``).
    USER_CACHE_TIMEOUT: int = 300
    #: One-to-one relations to the user (profile rows, e.g. ``["profile"]``) that
    #: ``CachedModelBackend`` reads with the user and caches with it; their saves and deletes
    #: invalidate the copy too.
    USER_SELECT_RELATED: tuple[str, ...] | list[str] = ()
    #: Carry sessions of Django's own engine over while switching to this one: ``None`` (off),
    #: ``"cache"`` (``django.contrib.sessions.backends.cache``) or ``"cached_db"``. When this
    #: store has no session for a cookie's key, the old engine's copy is looked up, stored here
    #: with its remaining lifetime, and deleted there. Costs nothing on a hit; turn it off once
    #: ``SESSION_COOKIE_AGE`` has passed since the switch.
    MIGRATE_FROM: str | None = None
    #: Cache alias the old engine used; None: Django's ``SESSION_CACHE_ALIAS``.
    MIGRATE_FROM_ALIAS: str | None = None


def get() -> SessionSettings:
    from django_redis_patterns import conf

    return conf.section("SESSIONS")  # type: ignore[no-any-return]
