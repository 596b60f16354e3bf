"""A LockedCommand with a 1 s lock that runs well past it: only the renewer (lock_renew's default) keeps it."""

from __future__ import annotations

from typing import Any

from django_redis_patterns.locks.commands import LockedCommand

from ._gate import mark, wait_for


class Command(LockedCommand):
    lock_ttl = 1  # lock_renew is left at its default (True)

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dir", required=True)
        parser.add_argument("--gate", default="", help="wait for this file before finishing")

    def handle(self, *args: Any, **options: Any) -> None:
        mark(options["dir"], "started")
        if options["gate"]:
            wait_for(options["dir"], options["gate"])  # the test opens it once the second run was skipped
        handle = self.lock_handle  # type: ignore[attr-defined]
        self.stdout.write(f"done renewals={handle.renewals} held={handle.held}")
