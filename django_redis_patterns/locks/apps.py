from __future__ import annotations

from django.apps import AppConfig


class LocksConfig(AppConfig):
    name = "django_redis_patterns.locks"
    label = "redis_locks"
    verbose_name = "Redis locks"

    def ready(self) -> None:
        # This app's system checks, and the core ones: those report a missing app, even the core
        # one, so they must run whichever of our apps is installed (redis_patterns.E006).
        from .. import checks as core_checks  # noqa: F401
        from . import checks  # noqa: F401
