"""Who holds a lock: the metadata hash stored next to each lock."""

from __future__ import annotations

import dataclasses
import datetime
import os
import socket
import sys
from collections.abc import Mapping
from typing import Any

#: Longest command line stored (a cron job's argv can be long; this is for humans).
ARGV_LIMIT = 300


def text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def this_process() -> tuple[str, str, str]:
    """(host, pid, command line) of the calling process, as stored in the metadata hash."""
    argv = " ".join(sys.argv)
    if len(argv) > ARGV_LIMIT:
        argv = argv[: ARGV_LIMIT - 1] + "…"
    return socket.gethostname(), str(os.getpid()), argv


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
    def from_hash(cls, fields: Mapping[Any, Any], ttl_ms: int | None = None) -> OwnerInfo | None:
        data = {text(k): text(v) for k, v in fields.items()}
        if not data:
            return None
        at = data.get("acquired_at", "")
        return cls(
            host=data.get("host", "?"),
            pid=int(data["pid"]) if data.get("pid", "").isdigit() else None,
            argv=data.get("argv", ""),
            acquired_at=(
                datetime.datetime.fromtimestamp(int(at) / 1000, tz=datetime.UTC) if at.lstrip("-").isdigit() else None
            ),
            renewals=int(data.get("renewals", "0") or 0),
            fencing_token=int(data["fence"]) if data.get("fence", "").isdigit() else None,
            ttl_ms=ttl_ms,
        )

    @classmethod
    def from_flat(cls, flat: list[Any], ttl_ms: int | None = None) -> OwnerInfo | None:
        return cls.from_hash(dict(zip(flat[::2], flat[1::2], strict=False)), ttl_ms)

    def since(self) -> str:
        return self.acquired_at.strftime("%Y-%m-%d %H:%M:%S UTC") if self.acquired_at else "an unknown time"

    def describe(self) -> str:
        """``on <host> pid <pid> since <time>`` — the words the busy messages use."""
        return f"on {self.host} pid {self.pid if self.pid is not None else '?'} since {self.since()}"
