"""What a check returns: per-rate figures and the binding one, plus django-ratelimit's dict keys."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from .rates import Rate


# Not frozen, with slots: one is built per check, and frozen dataclasses are slow to build.
@dataclasses.dataclass(slots=True)
class RateUsage:
    rate: Rate
    #: Hits still allowed now (after this one, for a granted hit).
    remaining: int
    #: Seconds until this rate would allow the same cost again; 0.0 when it allows it now.
    retry_after: float
    #: Seconds until this rate's state is back to empty (full quota).
    reset_after: float


_COMPAT_KEYS = ("count", "limit", "should_limit", "time_left")


@dataclasses.dataclass(slots=True)
class Usage:
    """The answer of ``hit``/``peek``/``reset``.

    ``limit``/``remaining``/``reset_after`` describe the binding rate: for a refused hit the
    one that waits longest, otherwise the one with the fewest hits left. ``retry_after`` is
    > 0 whenever ``allowed`` is False (never the "0 while limited" of whole-second clocks).
    Also readable as django-ratelimit's usage dict: ``usage["should_limit"]``, ``["count"]``,
    ``["limit"]``, ``["time_left"]``.
    """

    allowed: bool
    limit: int
    remaining: int
    retry_after: float
    reset_after: float
    rates: tuple[RateUsage, ...] = ()
    algorithm: str = ""
    #: Redis server time of the check (seconds since the epoch); None if Redis was unreachable.
    now: float | None = None
    #: True when Redis could not be reached and the FAIL_OPEN policy decided ``allowed``.
    unavailable: bool = False

    @property
    def should_limit(self) -> bool:
        """django-ratelimit's name for ``not allowed``."""
        return not self.allowed

    @property
    def count(self) -> int:
        """django-ratelimit's count: hits in the window, plus this request when it is refused
        (django-ratelimit counts refused hits too, so ``count > limit`` means limited)."""
        return self.limit - self.remaining + (0 if self.allowed else 1)

    @property
    def time_left(self) -> int:
        """Whole seconds until the limit lifts (refused) or resets (allowed); at least 1 when refused."""
        return math.ceil(self.retry_after if not self.allowed else self.reset_after)

    def __getitem__(self, name: str) -> Any:
        if name not in _COMPAT_KEYS:
            raise KeyError(name)
        return getattr(self, name)

    def get(self, name: str, default: Any = None) -> Any:
        """``usage[name]`` for django-ratelimit's keys, else ``default``."""
        return self[name] if name in _COMPAT_KEYS else default

    @classmethod
    def from_reply(cls, reply: list[Any], rates: tuple[Rate, ...], algorithm: str) -> Usage:
        """Build a usage from a limiter script's reply."""
        allowed = reply[0] == 1
        if len(rates) == 1:  # the common case, without the general case's generator and key functions
            only = RateUsage(rates[0], max(0, reply[2]), reply[3] / 1e6, max(0, reply[4]) / 1e6)
            return cls(
                allowed,
                rates[0].limit,
                only.remaining,
                0.0 if allowed else only.retry_after,
                only.reset_after,
                (only,),
                algorithm,
                reply[1] / 1e6,
            )
        per_rate = tuple(
            RateUsage(rate, max(0, reply[2 + 3 * i]), reply[3 + 3 * i] / 1e6, max(0, reply[4 + 3 * i]) / 1e6)
            for i, rate in enumerate(rates)
        )
        if allowed:
            binding = min(per_rate, key=lambda r: (r.remaining, -r.reset_after))
        else:
            binding = max(per_rate, key=lambda r: r.retry_after)
        return cls(
            allowed,
            binding.rate.limit,
            binding.remaining,
            0.0 if allowed else binding.retry_after,
            binding.reset_after,
            per_rate,
            algorithm,
            reply[1] / 1e6,
        )
