"""Score validation and the stored form of a score.

Redis keeps sorted-set scores as IEEE doubles: integers are exact up to 2**53 and NaN is
refused by Redis itself, while +-inf would be accepted and then break every rank. So a
score must be a finite real number within +-2**53; anything else is refused here with an
error naming the argument, before a round trip.

Boards store ``-score`` when higher is better ("desc"), so that sorted-set order is rank
order in both directions and equal scores always tie-break by member in byte order.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django_redis_patterns.exceptions import RedisPatternsError

MAX_EXACT = 2**53

Score = int | float


class LeaderboardError(RedisPatternsError):
    """Base class of leaderboard errors."""


class InvalidScore(LeaderboardError, ValueError):
    """A score is not a finite number within +-2**53."""


def check(value: Any, argument: str = "score") -> Score:
    """``value`` as an int or float, or :class:`InvalidScore` naming ``argument``."""
    if type(value) is int and -MAX_EXACT <= value <= MAX_EXACT:  # the common case, first
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | Fraction):
        raise InvalidScore(f"{argument} must be a number, got {type(value).__name__} {value!r}")
    if isinstance(value, int):
        if abs(value) > MAX_EXACT:
            raise InvalidScore(f"{argument}={value} is beyond 2**53, where Redis scores stop being exact")
        return value
    number = float(value)
    if not math.isfinite(number):
        raise InvalidScore(f"{argument} must be finite, got {value!r}")
    if abs(number) > MAX_EXACT:
        raise InvalidScore(f"{argument}={value} is beyond 2**53, where Redis scores stop being exact")
    if number.is_integer():
        return int(number)
    return number


def encode(score: Score, descending: bool) -> str:
    """The string sent to Redis: shortest exact form, negated for descending boards."""
    if type(score) is int:
        return str(-score if descending else score)  # ints have no -0
    if descending:
        score = -score
    if score == 0:
        return "0"  # never "-0"
    return str(score) if isinstance(score, int) else repr(score)


def decode(raw: bytes | str | float, descending: bool) -> Score:
    """A stored score back to the user's number (int when integral)."""
    if not isinstance(raw, float):
        try:  # integral scores are the common case, and Redis prints them as plain digits
            value = int(raw)
        except ValueError:
            pass
        else:
            return -value if descending else value
    number = float(raw)
    if descending:
        number = -number
    if number.is_integer():
        return int(number) if number != 0 else 0
    return number
