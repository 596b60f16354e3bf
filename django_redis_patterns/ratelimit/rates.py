"""Rate specifications: ``"5/m"``, ``"100/5m"``, ``"10/s;1000/d"``, ``(count, seconds)``.

As in django-ratelimit, ``"0/m"`` (or ``(0, 60)``) refuses every request, and a number
without a unit counts seconds (``"100/300"`` is 100 per 300 seconds).

Parsing is strict: anything else raises :class:`RateError` naming the offending value,
so a typo in a decorator fails at import time and one in settings fails the system check.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from .exceptions import RatelimitConfigError

#: Seconds per unit; django-ratelimit reads only the first letter, so "5/minute" keeps working.
UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
}
# The unit is optional when a number is given: "100/300" is 100 per 300 seconds (django-ratelimit).
_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-zA-Z]*)\s*$")


class RateError(RatelimitConfigError):
    """A rate that cannot be parsed; the message quotes it."""


@dataclasses.dataclass(frozen=True)
class Rate:
    """``limit`` requests per ``period`` seconds; a limit of 0 refuses every request."""

    limit: int
    period: float
    #: The period in whole microseconds, the unit of the Lua scripts (computed once).
    period_us: int = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "period_us", round(self.period * 1_000_000))

    @property
    def label(self) -> str:
        """Short name of the window ("1s", "5m", "1d", "2.5s"), used in headers and keys."""
        for unit, seconds in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
            if self.period >= seconds and self.period % seconds == 0:
                return f"{int(self.period // seconds)}{unit}"
        return f"{self.period:g}s"

    def __str__(self) -> str:
        return f"{self.limit}/{self.label}"


#: Shortest period accepted (seconds).
MIN_PERIOD = 0.001
#: Longest period accepted (seconds): 18250 days. The scripts count in µs with Lua doubles,
#: exact only below 2**53 µs (about 285 years after 1970); the largest instant they compute
#: is about now + 2 periods (a sliding window's reset, a GCRA burst), which 50 years keeps
#: below it until about the year 2150. Redis's own expiry limit (PX up to ~2**63 ms) is not
#: the bound.
MAX_PERIOD = 18250 * 86400

RateSpec = str | tuple[int, float] | Rate | Sequence[Any] | None
#: ``rate=`` of the decorator: a spec, or a callable ``(group, request)`` returning one.
RateArg = RateSpec | Callable[[str, Any], RateSpec]


def _one(value: Any, whole: Any) -> Rate:
    if isinstance(value, Rate):
        return value
    if isinstance(value, tuple) and len(value) == 2 and not isinstance(value[0], str | tuple):
        count, seconds = value
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise RateError(f"rate {whole!r}: the count must be an int >= 0, got {count!r}")
        # 1 ms floor: the scripts keep window numbers (now / period) below 1e14, where Lua
        # still prints them as exact integers; a shorter window is below a round trip anyway.
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not math.isfinite(seconds)
            or not MIN_PERIOD <= seconds <= MAX_PERIOD
        ):
            raise RateError(
                f"rate {whole!r}: the period must be a number of seconds from {MIN_PERIOD} to {MAX_PERIOD} "
                f"(18250 days), got {seconds!r}"
            )
        return Rate(count, float(seconds))
    if isinstance(value, str):
        match = _RATE_RE.match(value)
        if not match:
            raise RateError(
                f"rate {whole!r}: {value!r} is not '<count>/<unit>' or '<count>/<n><unit>' (e.g. '5/m', '100/5m')"
            )
        count, multiplier, unit = match.groups()
        if not unit and not multiplier:
            raise RateError(f"rate {whole!r}: {value!r} has no period after '/'; e.g. '5/m' or '100/300' (seconds)")
        seconds = UNITS.get(unit.lower()) if unit else 1
        if seconds is None:
            raise RateError(f"rate {whole!r}: unknown unit {unit!r} in {value!r}; use s, m, h or d")
        n = int(multiplier) if multiplier else 1
        if n < 1:
            raise RateError(f"rate {whole!r}: the multiplier must be >= 1 in {value!r}")
        if seconds * n > MAX_PERIOD:
            raise RateError(f"rate {whole!r}: the period of {value!r} is longer than the maximum, 18250 days")
        return Rate(int(count), float(seconds * n))
    raise RateError(f"rate {whole!r}: expected a string like '5/m' or a (count, seconds) tuple, got {value!r}")


def parse(value: RateSpec) -> tuple[Rate, ...]:
    """Parse a rate spec (cached for strings and tuples: decorators parse on every request)."""
    try:
        return _parse_cached(value)
    except TypeError:  # unhashable (a list): parse uncached
        return _parse(value)


@functools.lru_cache(maxsize=512)
def _parse_cached(value: RateSpec) -> tuple[Rate, ...]:
    return _parse(value)


def _parse(value: RateSpec) -> tuple[Rate, ...]:
    """Parse a rate spec into its rates (empty tuple for ``None``: no limit).

    Several rates (``"10/s;1000/d"`` or a list) are checked together, all-or-nothing;
    two rates with the same window are an error (one of them would never matter, and
    they would share a counter).
    """
    if value is None:
        return ()
    if isinstance(value, str):
        parts: list[Any] = [p for p in value.split(";") if p.strip()]
        if not parts:
            raise RateError(f"rate {value!r} is empty")
    elif isinstance(value, Rate) or (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], int)):
        parts = [value]
    elif isinstance(value, list | tuple):
        parts = list(value)
        if not parts:
            raise RateError(f"rate {value!r} is empty")
    else:
        raise RateError(f"rate {value!r}: expected a string like '5/m', a (count, seconds) tuple, or a list of them")
    rates = tuple(_one(p, value) for p in parts)
    periods = [r.period_us for r in rates]
    if len(set(periods)) != len(periods):
        raise RateError(f"rate {value!r}: two rates share one window; keep the stricter one")
    if any(p < 1000 for p in periods):
        raise RateError(f"rate {value!r}: the shortest window is 1 ms")
    return rates


def resolve(rate: RateArg, group: str, request: Any) -> tuple[Rate, ...]:
    """The rates for one request: calls a callable ``(group, request)``; dotted paths are imported."""
    if callable(rate) and not isinstance(rate, Rate):
        rate = rate(group, request)
    elif isinstance(rate, str) and "/" not in rate and "." in rate:
        from django.utils.module_loading import import_string

        rate = import_string(rate)(group, request)
    return parse(rate)  # type: ignore[arg-type]
