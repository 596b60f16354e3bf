"""Django REST framework throttles backed by the same limiter (needs ``djangorestframework``).

    REST_FRAMEWORK = {
        "DEFAULT_THROTTLE_CLASSES": ["django_redis_patterns.ratelimit.drf.UserRateThrottle"],
        "DEFAULT_THROTTLE_RATES": {"user": "1000/d", "anon": "100/d"},
    }

Drop-in for DRF's ``SimpleRateThrottle`` family: the same attributes (``scope``, ``rate``,
``THROTTLE_RATES``, ``cache_format``), the same hooks (``get_rate``, ``parse_rate``,
``get_cache_key``, ``throttle_success``/``throttle_failure``, ``wait``), the same cache keys
(``throttle_<scope>_<ident>``) and, by default, DRF's algorithm: a sliding log over the
whole period, so ``"3/min"`` lets a 4th request through only 60 s after the first.
Unlike DRF's throttles these are atomic (one Lua call, no get-then-set race), count on
Redis's clock rather than each server's, accept every rate this package parses
(``"10/s;1000/d"``), and ``wait()`` is the exact retry time. The client IP follows DRF's
``NUM_PROXIES`` when it is set; otherwise it is ``TRUSTED_PROXIES``'s (``X-Forwarded-For``
is not believed by default, where DRF would believe it).
"""

from __future__ import annotations

import time
from typing import Any

from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from .clientip import client_ip, mask
from .conf import get as settings
from .core import limiter_for
from .exceptions import RatelimitConfigError
from .rates import Rate, parse
from .usage import Usage


class RedisRateThrottle(BaseThrottle):
    """Like DRF's ``SimpleRateThrottle``: set ``scope`` (rate from ``THROTTLE_RATES``, by
    default ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``) or ``rate``, and override
    :meth:`get_cache_key` (return None to not throttle)."""

    scope: str | None = None
    rate: Any = None
    #: scope -> rate; None reads ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` at each lookup.
    THROTTLE_RATES: dict[str, Any] | None = None
    cache_format = "throttle_%(scope)s_%(ident)s"
    #: DRF's semantics: every hit of the last full period counts. Any of the six algorithms
    #: (``"gcra"`` spreads requests out evenly instead).
    algorithm: str | None = "sliding_log"
    cost: int = 1
    using: str | None = None
    #: Kept for code that calls it; limits are counted on Redis's clock, never this one.
    timer = time.time
    #: DRF's throttles take a cache object here; ours take an alias (``using``): setting it raises.
    cache: Any = None

    def __init__(self) -> None:
        self._refuse_cache_attribute()
        if not getattr(self, "rate", None):
            self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.rates: tuple[Rate, ...] = self._rates()
        self.usage: Usage | None = None

    def _refuse_cache_attribute(self) -> None:
        if self.cache is not None:
            raise RatelimitConfigError(
                f"{type(self).__name__}.cache is set; these throttles count in Redis through a cache alias: "
                "set `using = '<alias>'` instead"
            )

    def _rates(self) -> tuple[Rate, ...]:
        if type(self).parse_rate is not RedisRateThrottle.parse_rate:
            # A subclass's own parse_rate decides, as it would on DRF's throttle.
            if self.num_requests is None:
                return ()
            return parse((self.num_requests, self.duration))
        return parse(self.rate)

    def get_rate(self) -> Any:
        """The rate of ``scope`` in ``THROTTLE_RATES`` (default ``DEFAULT_THROTTLE_RATES``);
        ``RatelimitConfigError`` (a Django ``ImproperlyConfigured``) when missing."""
        scope = getattr(self, "scope", None)
        if not scope:
            raise RatelimitConfigError(f"You must set either `.scope` or `.rate` for {type(self).__name__!r} throttle")
        rates = self.THROTTLE_RATES if self.THROTTLE_RATES is not None else api_settings.DEFAULT_THROTTLE_RATES
        try:
            return rates[scope]
        except KeyError:
            raise RatelimitConfigError(f"No default throttle rate set for {scope!r} scope") from None

    def parse_rate(self, rate: Any) -> tuple[int | None, float | None]:
        """DRF's ``(num_requests, duration)``; for several rates (``"10/s;1000/d"``), the first."""
        if rate is None:
            return (None, None)
        first = parse(rate)[0]
        return first.limit, (int(first.period) if first.period.is_integer() else first.period)

    def get_ident(self, request: Any) -> str | None:
        """The client address: DRF's ``NUM_PROXIES`` rule when it is set, else ``TRUSTED_PROXIES``'s.

        ``None`` when the request carries no address at all (ASGI over a unix socket), as on
        DRF: every such request then shares one bucket (``throttle_anon_None``), so they are
        limited together, never unlimited."""
        num_proxies = api_settings.NUM_PROXIES
        meta = request.META
        if not meta.get("REMOTE_ADDR") and not meta.get("HTTP_X_FORWARDED_FOR") and not settings().IP_META_KEY:
            return None
        if num_proxies is None:
            return client_ip(request)
        remote = request.META.get("REMOTE_ADDR")
        xff = request.META.get("HTTP_X_FORWARDED_FOR")
        if num_proxies == 0 or xff is None:
            address = remote
        else:
            hops = xff.split(",")
            address = hops[-min(num_proxies, len(hops))].strip()
        if not address:
            return None  # DRF's rule, as above
        return mask(address)

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        """The bucket of this request, or ``None`` for no limit; subclasses override it."""
        raise NotImplementedError(".get_cache_key() must be overridden")

    def allow_request(self, request: Any, view: Any) -> bool:
        """Count this request (one atomic call); False when over the limit."""
        if not self.rates or not settings().ENABLE:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.usage = limiter_for(self.algorithm, self.using).hit(
            f"drf:{self.scope}\x00{self.key}", self.rates, cost=self.cost
        )
        self.now = self.usage.now
        request.ratelimit = self.usage
        return self.throttle_success() if self.usage.allowed else self.throttle_failure()

    def throttle_success(self) -> bool:
        """Called when the hit was counted; the hook DRF's throttles have."""
        return True

    def throttle_failure(self) -> bool:
        """Called when the request is refused; the hook DRF's throttles have."""
        return False

    def wait(self) -> float | None:
        """Seconds until this client may retry (exact, from Redis); None when not throttled."""
        if self.usage is not None:
            return None if self.usage.allowed else self.usage.retry_after
        history = getattr(self, "history", None)
        if history is None or self.num_requests is None or self.duration is None:
            return None
        # A subclass keeping DRF's own ``history`` list (newest first) gets DRF's answer.
        remaining = self.duration - (self.now - history[-1]) if history else self.duration
        available = self.num_requests - len(history) + 1
        return None if available <= 0 else remaining / float(available)


#: The name of the DRF class this one replaces.
SimpleRateThrottle = RedisRateThrottle


class AnonRateThrottle(RedisRateThrottle):
    """Anonymous requests, by client IP (scope ``anon``)."""

    scope = "anon"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        """``throttle_anon_<client IP>``; ``None`` (no limit) for logged-in users."""
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class UserRateThrottle(RedisRateThrottle):
    """Authenticated users by pk, others by client IP (scope ``user``)."""

    scope = "user"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        """``throttle_<scope>_<user pk>`` when logged in, else ``throttle_<scope>_<client IP>``."""
        user = request.user
        ident = user.pk if user and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ScopedRateThrottle(RedisRateThrottle):
    """Per-view scope from the view's ``throttle_scope`` attribute."""

    scope_attr = "throttle_scope"

    def __init__(self) -> None:
        self._refuse_cache_attribute()
        self.usage = None  # the rate depends on the view: read in allow_request

    def allow_request(self, request: Any, view: Any) -> bool:
        """Read the view's scope and its rate, then count as the other throttles do."""
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.rates = self._rates()
        self.usage = None
        return super().allow_request(request, view)

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        """``throttle_<scope>_<user pk>`` when logged in, else ``throttle_<scope>_<client IP>``."""
        user = request.user
        ident = user.pk if user and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
