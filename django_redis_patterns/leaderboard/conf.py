"""Settings of REDIS_PATTERNS["LEADERBOARD"]: one field per key, with its default."""

from __future__ import annotations

import dataclasses

from django_redis_patterns.exceptions import ImproperlyConfigured


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
    #: A read that finds a model's board missing from Redis (its marker gone: data lost, or
    #: never built) rebuilds it from the table. False: such reads raise BoardMissing instead
    #: (for boards too big to rebuild during a request); the model's ``self_heal`` overrides.
    SELF_HEAL: bool = True
    #: Seconds a read waits for another process's rebuild of a missing board before it
    #: raises BoardMissing.
    HEAL_WAIT: float = 5.0

    def __post_init__(self) -> None:
        where = 'REDIS_PATTERNS["LEADERBOARD"]'
        if not isinstance(self.SELF_HEAL, bool):
            raise ImproperlyConfigured(f'{where}["SELF_HEAL"] must be True or False, got {self.SELF_HEAL!r}')
        wait = self.HEAL_WAIT
        if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= 600:
            raise ImproperlyConfigured(f'{where}["HEAL_WAIT"] must be a number of seconds in 0..600, got {wait!r}')


def get() -> LeaderboardSettings:
    from django_redis_patterns import conf

    return conf.section("LEADERBOARD")  # type: ignore[no-any-return]
