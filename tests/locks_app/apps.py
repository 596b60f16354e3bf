from __future__ import annotations

from django.apps import AppConfig


class LocksAppConfig(AppConfig):
    name = "tests.locks_app"
    label = "locks_app"
    default_auto_field = "django.db.models.BigAutoField"
