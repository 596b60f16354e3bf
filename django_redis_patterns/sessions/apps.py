from __future__ import annotations

from django.apps import AppConfig, apps


class SessionsConfig(AppConfig):
    name = "django_redis_patterns.sessions"
    label = "redis_sessions"
    verbose_name = "Redis sessions"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_delete, post_save

        # This app's system checks, and the core ones: those report a missing app, even the core
        # one, so they must run whichever of our apps is installed (redis_patterns.E006).
        from .. import checks as core_checks  # noqa: F401
        from . import checks  # noqa: F401
        from .auth import row_changed
        from .receivers import record_login_client

        user_logged_in.connect(record_login_client, dispatch_uid="django_redis_patterns.sessions.login_client")
        # CachedModelBackend: any save or delete of a user (or of a USER_SELECT_RELATED row)
        # makes its cached copy out of date; a no-op when no cached backend is configured. Every
        # model's signal, because USER_SELECT_RELATED decides which models matter.
        if apps.is_installed("django.contrib.auth"):
            post_save.connect(row_changed, dispatch_uid="drp.sessions.row_saved")
            post_delete.connect(row_changed, dispatch_uid="drp.sessions.row_deleted")
