"""Settings of REDIS_PATTERNS["LEADERBOARD"]: one field per key, with its default."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class LeaderboardSettings:
    #: Cache alias; None falls back to REDIS_PATTERNS["USING"].
    USING: str | None = None


def get() -> LeaderboardSettings:
    from django_redis_patterns import conf

    return conf.section("LEADERBOARD")  # type: ignore[no-any-return]
