"""A LockedCommand for the tests: records that it ran, then waits for the test's gate."""

from __future__ import annotations

import os
from typing import Any

from django_redis_patterns.locks.commands import LockedCommand

from ._gate import append, mark, wait_for


class Command(LockedCommand):
    lock_ttl = 5
    lock_on_busy = os.environ.get("LOCKED_JOB_ON_BUSY", "skip")  # type: ignore[assignment]

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dir", required=True)
        parser.add_argument("--tenant", default="")
        parser.add_argument("--gate", default="", help="wait for this file before finishing")

    def handle(self, *args: Any, **options: Any) -> None:
        append(options["dir"], "ran", f"{os.getpid()} {options['tenant']}")
        mark(options["dir"], f"started-{os.getpid()}")
        if options["gate"]:
            wait_for(options["dir"], options["gate"])
        self.stdout.write("done")
