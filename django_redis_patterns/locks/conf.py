"""Settings of REDIS_PATTERNS["LOCKS"]: one field per key, with its default."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class LockSettings:
    #: Cache alias; None falls back to REDIS_PATTERNS["USING"].
    USING: str | None = None


def get() -> LockSettings:
    from django_redis_patterns import conf

    return conf.section("LOCKS")  # type: ignore[no-any-return]
