"""An ordinary BaseCommand whose handle is wrapped by @command_lock."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from django_redis_patterns.locks.commands import command_lock


class Command(BaseCommand):
    @command_lock(ttl=5, on_busy="fail")
    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write("ran")
