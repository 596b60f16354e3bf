from __future__ import annotations

from django.apps import AppConfig


class ArcadeConfig(AppConfig):
    """The example game: players, rounds and season snapshots (the project package is also the app)."""

    name = "arcade"
    label = "arcade"
    verbose_name = "Arcade"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        if getattr(settings, "ARCADE_METRICS", False):
            from django_redis_patterns.contrib import prometheus

            prometheus.install()
