from __future__ import annotations

from django.apps import AppConfig


class SessionsConfig(AppConfig):
    name = "django_redis_patterns.sessions"
    label = "redis_sessions"
    verbose_name = "Redis sessions"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from . import checks  # noqa: F401  (registers the system checks)
        from .receivers import record_login_client

        user_logged_in.connect(record_login_client, dispatch_uid="django_redis_patterns.sessions.login_client")
