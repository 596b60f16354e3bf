from __future__ import annotations

from django.apps import AppConfig


class RatelimitConfig(AppConfig):
    name = "django_redis_patterns.ratelimit"
    label = "redis_ratelimit"
    verbose_name = "Redis rate limiting"
