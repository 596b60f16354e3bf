from __future__ import annotations

from django.apps import AppConfig


class CacheConfig(AppConfig):
    name = "django_redis_patterns.cache"
    label = "redis_cache"
    verbose_name = "Redis cache"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
