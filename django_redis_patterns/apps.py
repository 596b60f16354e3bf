from __future__ import annotations

from django.apps import AppConfig


class RedisPatternsConfig(AppConfig):
    name = "django_redis_patterns"
    label = "redis_patterns"
    verbose_name = "Redis patterns"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
