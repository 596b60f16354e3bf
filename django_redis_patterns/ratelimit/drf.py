"""Django REST framework throttles backed by the same limiter (needs ``djangorestframework``).

    REST_FRAMEWORK = {
        "DEFAULT_THROTTLE_CLASSES": ["django_redis_patterns.ratelimit.drf.UserRateThrottle"],
        "DEFAULT_THROTTLE_RATES": {"user": "1000/d", "anon": "100/d"},
    }

Unlike DRF's own throttles these are atomic (one Lua call, no get-then-set race), take the
client IP from ``TRUSTED_PROXIES`` instead of believing any ``X-Forwarded-For``, accept
every rate this package parses (``"10/s;1000/d"``), and ``wait()`` is the exact retry time.
"""

from __future__ import annotations

from typing import Any

from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from .clientip import client_ip
from .conf import get as settings
from .core import limiter_for
from .exceptions import RatelimitConfigError
from .rates import Rate, parse
from .usage import Usage


class RedisRateThrottle(BaseThrottle):
    """Like DRF's ``SimpleRateThrottle``: set ``scope`` (rate from ``DEFAULT_THROTTLE_RATES``)
    or ``rate``, and override :meth:`get_cache_key` (return None to not throttle)."""

    scope: str | None = None
    rate: Any = None
    algorithm: str | None = None
    cost: int = 1
    using: str | None = None

    def __init__(self) -> None:
        if self.rate is None:
            self.rate = self.get_rate()
        self.rates: tuple[Rate, ...] = parse(self.rate)
        self.usage: Usage | None = None

    def get_rate(self) -> Any:
        """The rate of ``scope`` in ``DEFAULT_THROTTLE_RATES``; ``RatelimitConfigError`` when missing."""
        if not self.scope:
            raise RatelimitConfigError(f"{type(self).__name__} needs a 'rate' or a 'scope'")
        try:
            return api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        except KeyError:
            raise RatelimitConfigError(f"no rate in DEFAULT_THROTTLE_RATES for scope {self.scope!r}")

    def get_ident(self, request: Any) -> str:
        return client_ip(request)

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        """The bucket of this request, or ``None`` for no limit; subclasses override it."""
        raise NotImplementedError(".get_cache_key() must be overridden")

    def allow_request(self, request: Any, view: Any) -> bool:
        if not self.rates or not settings().ENABLE:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.usage = limiter_for(self.algorithm, self.using).hit(
            f"drf:{self.scope}\x00{key}", self.rates, cost=self.cost
        )
        request.ratelimit = self.usage
        return self.usage.allowed

    def wait(self) -> float | None:
        return None if self.usage is None or self.usage.allowed else self.usage.retry_after


class AnonRateThrottle(RedisRateThrottle):
    """Anonymous requests, by client IP (scope ``anon``)."""

    scope = "anon"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        """The client IP for anonymous requests; ``None`` (no limit) for logged-in users."""
        if request.user and request.user.is_authenticated:
            return None
        return self.get_ident(request)


class UserRateThrottle(RedisRateThrottle):
    """Authenticated users by pk, others by client IP (scope ``user``)."""

    scope = "user"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        """The user's pk when logged in, else the client IP."""
        if request.user and request.user.is_authenticated:
            return f"user:{request.user.pk}"
        return f"ip:{self.get_ident(request)}"


class ScopedRateThrottle(RedisRateThrottle):
    """Per-view scope from the view's ``throttle_scope`` attribute."""

    scope_attr = "throttle_scope"

    def __init__(self) -> None:
        self.usage = None  # the rate depends on the view: read in allow_request

    def allow_request(self, request: Any, view: Any) -> bool:
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.rates = parse(self.rate)
        self.usage = None
        return super().allow_request(request, view)

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        """The user's pk when logged in, else the client IP, counted per scope."""
        if request.user and request.user.is_authenticated:
            return f"user:{request.user.pk}"
        return f"ip:{self.get_ident(request)}"
