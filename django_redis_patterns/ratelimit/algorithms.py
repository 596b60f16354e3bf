"""The six algorithms: which Lua script, and the per-rate third argument each needs.

Every script has the same contract (see the headers in ``lua/``): one key per rate, all
sharing a ``{hash tag}``; ARGV = mode, cost, then ``limit, period_us, extra`` per rate;
reply = ``allowed, now_us`` then ``remaining, retry_after_us, reset_after_us`` per rate.
So one caller (``core.Limiter``) drives them all, sync and async alike.
"""

from __future__ import annotations

import dataclasses
import zlib

from django_redis_patterns.client import scripts

from .exceptions import RatelimitConfigError
from .rates import Rate

PACKAGE = "django_redis_patterns.ratelimit"


@dataclasses.dataclass(frozen=True)
class Algorithm:
    name: str
    #: Short code used in Redis keys (state formats differ, so each algorithm has its own keys).
    code: str
    #: One-line summary for docs and errors.
    summary: str

    @property
    def script(self) -> scripts.Script:
        return scripts.load(self.name, package=PACKAGE)

    def extra(self, rate: Rate, digest: str, *, burst: int | None, stagger: bool) -> int:
        """The third per-rate argument: burst (gcra), window offset (fixed_window), else 0."""
        if self.name == "gcra":
            return burst if burst is not None else rate.limit
        if self.name == "fixed_window" and stagger:
            # Spread window edges over the period per key, so clients don't all reset at :00.
            return zlib.crc32(digest.encode()) % rate.period_us
        return 0

    def capacity(self, rate: Rate, burst: int | None) -> int:
        """The largest cost one hit can ever be granted."""
        if self.name == "gcra" and burst is not None:
            return burst
        return rate.limit


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm("gcra", "gc", "one timestamp per key; exact; burst then a steady rate"),
        Algorithm("fixed_window", "fw", "a counter per window; up to 2x limit across a window edge"),
        Algorithm("sliding_window", "sw", "weighted current + previous window counters; approximate"),
        Algorithm("sliding_log", "sl", "a sorted set of hit times; exact; memory grows with the limit"),
        Algorithm("token_bucket", "tb", "tokens refilled continuously; burst = limit"),
        Algorithm("leaky_bucket", "lb", "a meter draining continuously; overflow refused"),
    )
}
DEFAULT = "gcra"


def get(name: str | None) -> Algorithm:
    """The algorithm called ``name`` (``None``: the ``ALGORITHM`` setting)."""
    if name is None:
        from .conf import get as settings

        name = settings().ALGORITHM
    try:
        return ALGORITHMS[name]
    except (KeyError, TypeError):
        raise RatelimitConfigError(f"algorithm {name!r} is unknown; choose one of {', '.join(ALGORITHMS)}") from None
