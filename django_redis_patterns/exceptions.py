"""The package's error hierarchy.

Every error this package raises on purpose derives from :class:`RedisPatternsError`,
so a project can catch one type. Pattern packages subclass these.
"""

from __future__ import annotations

from django.core import exceptions as django_exceptions


class RedisPatternsError(Exception):
    """Base class of every error raised by django-redis-patterns."""


class ImproperlyConfigured(RedisPatternsError, django_exceptions.ImproperlyConfigured):
    """A setting or argument is invalid; the message names it.

    Also Django's ``ImproperlyConfigured``, which is what code and tests written for Django,
    django-redis or django-ratelimit catch for a configuration error."""


class RedisUnavailable(RedisPatternsError):
    """Redis could not be reached (or answered too slowly) for an operation.

    ``alias`` and ``command`` say where; the original redis-py error is ``__cause__``.
    """

    def __init__(self, message: str, *, alias: str | None = None, command: str | None = None):
        super().__init__(message)
        self.alias = alias
        self.command = command


class InvalidDatabase(ImproperlyConfigured):
    """A URL's (or option's) database number is not one Redis can select."""


class InvalidOptions(ImproperlyConfigured):
    """One or more cache ``OPTIONS`` are invalid; ``problems`` lists ``(option, message)`` for each."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems
