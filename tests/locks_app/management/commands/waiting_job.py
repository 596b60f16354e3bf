"""A LockedCommand that waits for a busy lock (class attributes lock_on_busy and lock_wait, no flags)."""

from __future__ import annotations

import os
import time
from typing import Any

from django_redis_patterns.locks.commands import LockedCommand

from ._gate import append, mark, wait_for


class Command(LockedCommand):
    lock_ttl = 5
    lock_on_busy = "wait"
    lock_wait = float(os.environ.get("WAITING_JOB_WAIT", "60"))

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dir", required=True)
        parser.add_argument("--gate", default="", help="wait for this file before finishing")

    def handle(self, *args: Any, **options: Any) -> None:
        # CLOCK_MONOTONIC is one clock for every process of the machine: runs can be ordered.
        started = time.monotonic()
        mark(options["dir"], f"started-{os.getpid()}")
        if options["gate"]:
            wait_for(options["dir"], options["gate"])
        append(options["dir"], "ran", f"{os.getpid()} {started!r} {time.monotonic()!r}")
        self.stdout.write("done")
