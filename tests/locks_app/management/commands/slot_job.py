"""A LockedCommand in slot mode: at most once per period."""

from __future__ import annotations

import os
from typing import Any

from django_redis_patterns.locks.commands import LockedCommand

from ._gate import append


class Command(LockedCommand):
    lock_mode = "slot"
    lock_period = float(os.environ.get("SLOT_JOB_PERIOD", "3600"))
    lock_ttl = 5

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dir", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        at = self.lock_handle.acquired_at  # type: ignore[attr-defined]
        append(options["dir"], "ran", str(int(at.timestamp() * 1000) // int(self.lock_period * 1000)))
        self.stdout.write("done")
