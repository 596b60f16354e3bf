from __future__ import annotations

from django.apps import AppConfig, apps


class SessionsConfig(AppConfig):
    name = "django_redis_patterns.sessions"
    label = "redis_sessions"
    verbose_name = "Redis sessions"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_delete, post_save

        from . import checks  # noqa: F401  (registers the system checks)
        from .auth import user_changed
        from .receivers import record_login_client

        user_logged_in.connect(record_login_client, dispatch_uid="django_redis_patterns.sessions.login_client")
        # CachedModelBackend: any save or delete of a user drops its cached copy (a no-op when
        # no cached backend is in AUTHENTICATION_BACKENDS).
        if apps.is_installed("django.contrib.auth"):
            user_model = get_user_model()
            post_save.connect(user_changed, sender=user_model, dispatch_uid="drp.sessions.user_saved")
            post_delete.connect(user_changed, sender=user_model, dispatch_uid="drp.sessions.user_deleted")
