from __future__ import annotations

from django.apps import AppConfig


class LocksConfig(AppConfig):
    name = "django_redis_patterns.locks"
    label = "redis_locks"
    verbose_name = "Redis locks"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
