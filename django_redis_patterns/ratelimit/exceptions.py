"""Errors of the rate limiter (django-ratelimit's ``Ratelimited`` plus its usage)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.cache import InvalidCacheBackendError
from django.core.exceptions import PermissionDenied

from django_redis_patterns.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from .usage import Usage


class Ratelimited(PermissionDenied):
    """A request over its limit. A ``PermissionDenied`` subclass, as in django-ratelimit, so
    code catching either keeps working; ``RatelimitMiddleware`` turns it into a 429 (or a
    503 when the limiter failed closed because Redis was unreachable).
    """

    def __init__(self, usage: Usage | None = None, message: str = "Too many requests"):
        super().__init__(message)
        self.usage = usage


class RatelimitConfigError(ImproperlyConfigured, ValueError):
    """A bad argument or setting of the rate limiter; the message names it.

    Like every configuration error of this package, also Django's ``ImproperlyConfigured``
    (what django-ratelimit and DRF raise for the same mistakes)."""


class RatelimitCacheError(RatelimitConfigError, InvalidCacheBackendError):
    """The cache alias the limiter uses is not in ``CACHES`` or is not a Redis cache.

    Also Django's ``InvalidCacheBackendError``, as django-ratelimit raises for an unknown
    ``RATELIMIT_USE_CACHE``.
    """
