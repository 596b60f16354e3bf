"""Who holds a lock: the metadata stored in each lock's value."""

from __future__ import annotations

import dataclasses
import datetime
import os
import socket
import sys
from typing import Any

#: Longest command line stored (a cron job's argv can be long; this is for humans).
ARGV_LIMIT = 300


def text(value: Any) -> str:
    """``value`` as ``str`` (bytes decoded as UTF-8, undecodable bytes replaced)."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


_this: tuple[int, str] | None = None


def this_process() -> str:
    """``host|pid|command line`` of the calling process, as stored in a lock's value.

    Computed once per process (a fork gets its own: the pid is checked).
    """
    global _this
    pid = os.getpid()
    if _this is None or _this[0] != pid:
        argv = " ".join(sys.argv)
        if len(argv) > ARGV_LIMIT:
            argv = argv[: ARGV_LIMIT - 1] + "…"
        _this = (pid, f"{socket.gethostname().replace('|', '_')}|{pid}|{argv}")
    return _this[1]


@dataclasses.dataclass(frozen=True)
class OwnerInfo:
    host: str
    pid: int | None
    argv: str
    #: When the holder acquired it (Redis clock), UTC.
    acquired_at: datetime.datetime | None
    renewals: int
    fencing_token: int | None
    #: Milliseconds left before the lock expires (None: unknown).
    ttl_ms: int | None = None

    @classmethod
    def from_value(cls, value: Any, fence: Any = None, ttl_ms: int | None = None) -> OwnerInfo | None:
        """Parse a lock's value ``token|acquired_at_ms|renewals|ttl_ms|host|pid|argv``.

        ``fence`` is the fencing counter, whose value is the current holder's token.
        """
        if value is None:
            return None
        parts = text(value).split("|", 6)
        if len(parts) < 7:
            return None  # not written by this package (or an older format)
        _, at, renewals, _, host, pid, argv = parts
        fence_text = text(fence) if fence is not None else ""
        return cls(
            host=host,
            pid=int(pid) if pid.isdigit() else None,
            argv=argv,
            acquired_at=datetime.datetime.fromtimestamp(int(at) / 1000, tz=datetime.UTC) if at.isdigit() else None,
            renewals=int(renewals) if renewals.isdigit() else 0,
            fencing_token=int(fence_text) if fence_text.isdigit() else None,
            ttl_ms=ttl_ms,
        )

    def since(self) -> str:
        """When the holder acquired the lock, as ``YYYY-MM-DD HH:MM:SS UTC``."""
        return self.acquired_at.strftime("%Y-%m-%d %H:%M:%S UTC") if self.acquired_at else "an unknown time"

    def describe(self) -> str:
        """``on <host> pid <pid> since <time>`` — the words the busy messages use."""
        return f"on {self.host} pid {self.pid if self.pid is not None else '?'} since {self.since()}"
