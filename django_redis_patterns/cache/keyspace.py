"""The cache's keyspace: which Redis keys ``clear()`` may delete.

With Django's default key function a cache key is ``<KEY_PREFIX>:<version>:<key>`` (also
django-redis's layout), and Django's versions are integers. That integer segment is the
marker: ``clear()`` deletes exactly the keys that start with ``<KEY_PREFIX>:<integer>:``,
and no other pattern of this package may write such a key on the same alias (the session
engine refuses the prefix at startup, system check ``redis_patterns.E052`` reports the
others), so sessions, locks, rate-limit counters and leaderboards sharing the alias and the
prefix survive ``clear()`` by construction.
"""

from __future__ import annotations

import re


def owner_regex(cache_prefix: str) -> re.Pattern[bytes]:
    """Matches the start of every key the cache writes under ``cache_prefix``."""
    return re.compile(re.escape(cache_prefix.encode()) + rb":-?[0-9]+:", re.DOTALL)


def scan_match(escaped_prefix: str) -> str:
    """A SCAN MATCH glob covering the keyspace (narrower than ``<prefix>:*:*``; the regex decides)."""
    return f"{escaped_prefix}:[0-9-]*:*"


def overlaps(cache_prefix: str, key_start: str) -> bool:
    """Whether keys starting with ``key_start`` would fall in the cache's keyspace."""
    return owner_regex(cache_prefix).match(key_start.encode()) is not None
