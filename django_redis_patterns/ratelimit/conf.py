"""Settings of REDIS_PATTERNS["RATELIMIT"]: one field per key, with its default."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class RatelimitSettings:
    #: Cache alias; None falls back to REDIS_PATTERNS["USING"].
    USING: str | None = None


def get() -> RatelimitSettings:
    from django_redis_patterns import conf

    return conf.section("RATELIMIT")  # type: ignore[no-any-return]
