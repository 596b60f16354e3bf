from __future__ import annotations

from django.apps import AppConfig


class SessionsConfig(AppConfig):
    name = "django_redis_patterns.sessions"
    label = "redis_sessions"
    verbose_name = "Redis sessions"
