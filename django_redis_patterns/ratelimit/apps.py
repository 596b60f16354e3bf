from __future__ import annotations

from django.apps import AppConfig


class RatelimitConfig(AppConfig):
    name = "django_redis_patterns.ratelimit"
    label = "redis_ratelimit"
    verbose_name = "Redis rate limiting"

    def ready(self) -> None:
        # This app's system checks, and the core ones: those report a missing app, even the core
        # one, so they must run whichever of our apps is installed (redis_patterns.E006).
        from .. import checks as core_checks  # noqa: F401
        from . import checks  # noqa: F401
