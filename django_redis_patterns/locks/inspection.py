"""Read-only views of the locks in Redis (for ``manage.py redis_locks`` and operators)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from django_redis_patterns.client import connections

from . import conf, core
from .owner import OwnerInfo, text


@dataclasses.dataclass(frozen=True)
class LockInfo:
    name: str
    #: Milliseconds before it expires; None when not held.
    ttl_ms: int | None
    owner: OwnerInfo | None
    #: The last fencing token handed out for this name.
    last_fencing_token: int | None


def primaries(client: Any) -> list[Any]:
    """A client per primary: every node of a Cluster, else the client itself."""
    if connections.is_cluster(client):
        return [client.get_redis_connection(node) for node in client.get_primaries()]
    return [client]


def held_names(using: str | None = None) -> Iterator[str]:
    """Names of the locks currently held (SCAN over every primary; never KEYS)."""
    client = connections.get_redis(core.resolve_alias(using))
    prefix = conf.get().KEY_PREFIX
    # Lock keys are exactly "<prefix>{<name>}"; their companions end in ":fence", ":wake"...
    pattern = f"{_glob_escape(prefix)}{{*}}"
    seen: set[str] = set()
    for node in primaries(client):
        for key in node.scan_iter(match=pattern, count=500):
            key = text(key)
            name = key[len(prefix) + 1 : -1]
            if name not in seen:
                seen.add(name)
                yield name


def _counter(value: Any) -> int | None:
    """The fencing counter; None when absent or not a number (not written by this package)."""
    digits = text(value) if value is not None else ""
    return int(digits) if digits.isdigit() else None


def _glob_escape(value: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in value)


def info(name: str, using: str | None = None) -> LockInfo:
    """Who holds lock ``name`` (holder, since, TTL, renewals, fencing token), in one round trip."""
    keys = core.LockKeys.for_name(core.validate_name(name))
    client = connections.get_redis(core.resolve_alias(using))
    # One round trip; the keys share a slot, so this works on Cluster too.
    pipe = client.pipeline(transaction=False)
    pipe.pttl(keys.lock)
    pipe.get(keys.lock)
    pipe.get(keys.fence)
    pttl, value, fence = pipe.execute()
    ttl_ms = int(pttl) if int(pttl) >= 0 else None
    held = value is not None
    return LockInfo(
        name=name,
        ttl_ms=ttl_ms if held else None,
        owner=OwnerInfo.from_value(value, fence, ttl_ms) if held else None,
        last_fencing_token=_counter(fence),
    )


def force_release(name: str, using: str | None = None) -> bool:
    """Delete a lock whoever holds it (and wake a waiter). True if it was held."""
    keys = core.LockKeys.for_name(core.validate_name(name))
    client = connections.get_redis(core.resolve_alias(using))
    return bool(int(core.RELEASE(client, keys.release, core.release_args("", force=True))))
