from __future__ import annotations

from django.apps import AppConfig


class LocksConfig(AppConfig):
    name = "django_redis_patterns.locks"
    label = "redis_locks"
    verbose_name = "Redis locks"
