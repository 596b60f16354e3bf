"""A LockedCommand whose lock key uses an option (one lock per tenant)."""

from __future__ import annotations

from typing import Any

from django_redis_patterns.locks.commands import LockedCommand


class Command(LockedCommand):
    lock_key = "tenant-job:{tenant}"
    lock_on_busy = "fail"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("tenant")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"ran for {options['tenant']}")
