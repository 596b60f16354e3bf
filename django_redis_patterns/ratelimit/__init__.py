"""Redis rate limiting (django_redis_patterns.ratelimit).

django-ratelimit's API (``ratelimit``, ``get_usage``, ``is_ratelimited``, ``Ratelimited``,
``ALL``, ``UNSAFE``) on one Lua round trip per check, plus ``Limiter`` for direct use.
"""

from __future__ import annotations

from .core import ALL, UNSAFE, Limiter, aget_usage, ais_ratelimited, get_usage, is_ratelimited
from .decorators import ratelimit
from .exceptions import RatelimitConfigError, Ratelimited
from .keys import normalize_username, normalized_post
from .rates import Rate, RateError
from .usage import RateUsage, Usage

__all__ = [
    "ALL",
    "UNSAFE",
    "Limiter",
    "Rate",
    "RateError",
    "RateUsage",
    "RatelimitConfigError",
    "Ratelimited",
    "Usage",
    "aget_usage",
    "ais_ratelimited",
    "get_usage",
    "is_ratelimited",
    "normalize_username",
    "normalized_post",
    "ratelimit",
]
