from __future__ import annotations

from django.apps import AppConfig


class RatelimitConfig(AppConfig):
    name = "django_redis_patterns.ratelimit"
    label = "redis_ratelimit"
    verbose_name = "Redis rate limiting"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
