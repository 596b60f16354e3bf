"""Settings of REDIS_PATTERNS["SESSIONS"]: one field per key, with its default."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class SessionSettings:
    #: Cache alias; None falls back to REDIS_PATTERNS["USING"].
    USING: str | None = None


def get() -> SessionSettings:
    from django_redis_patterns import conf

    return conf.section("SESSIONS")  # type: ignore[no-any-return]
