"""Settings of REDIS_PATTERNS["LEADERBOARD"]: one field per key, with its default."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class LeaderboardSettings:
    #: Cache alias; None falls back to REDIS_PATTERNS["USING"].
    USING: str | None = None
    #: First part of every board key: "<KEY_PREFIX>:{<board name>}".
    KEY_PREFIX: str = "lb"
    #: Finished periods that stay readable before their keys expire (1 = last week's board
    #: is still there this week).
    PERIOD_RETAIN: int = 1
    #: Members per pipelined command when rebuilding or syncing many rows.
    BATCH_SIZE: int = 1000
    #: Rows per page on the admin leaderboard page.
    ADMIN_PER_PAGE: int = 25


def get() -> LeaderboardSettings:
    from django_redis_patterns import conf

    return conf.section("LEADERBOARD")  # type: ignore[no-any-return]
