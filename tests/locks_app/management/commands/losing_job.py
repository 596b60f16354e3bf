"""A LockedCommand whose lock is taken from under it while it runs (the test breaks it)."""

from __future__ import annotations

import os
from typing import Any

from django_redis_patterns.locks.commands import LockedCommand

from ._gate import mark, wait_for


class Command(LockedCommand):
    lock_ttl = float(os.environ.get("LOSING_JOB_TTL", "1"))

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dir", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        mark(options["dir"], "started")
        wait_for(options["dir"], "go")
        self.stdout.write("finished the work")
