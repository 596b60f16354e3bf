"""How sessions and the per-user index are laid out in Redis (pure: no I/O).

A session is one string key, ``<prefix>s:<session key>``, holding::

    v1 <indexed_at ms> <index score ms> <user id, %-quoted>\\n<32-byte MAC><SESSION_SERIALIZER bytes>

The first line says what the user's index knows about this session, so a request can
decide without a round trip whether the index needs refreshing; the rest is the data as
``SESSION_SERIALIZER`` writes it, sealed by :mod:`.sealing`. An anonymous session's
header is ``v1``.

A user's index is two keys sharing the user's ``{hash tag}`` (one slot, so one script
updates both): a sorted set ``<prefix>u:{<uid>}:z`` (member: session key, score: expiry
in ms by Redis's clock) and a hash ``<prefix>u:{<uid>}:h`` (field: session key, value:
``created \\t last seen \\t ip \\t user agent``).

Revocation leaves two more keys in the same slot: a sorted set ``<prefix>u:{<uid>}:t`` of
tombstones (member: a revoked session key, score: when the tombstone expires, ms) and a
hash ``<prefix>u:{<uid>}:l`` of rotations (field: the old key of a ``cycle_key``, value: the
new key), so a revocation also reaches the key a session was just rotated to.
"""

from __future__ import annotations

import dataclasses
import hashlib
import string
from urllib.parse import quote, unquote

VERSION = b"v1"
VALID_KEY_CHARS_STR = string.ascii_lowercase + string.digits
VALID_KEY_CHARS = frozenset(VALID_KEY_CHARS_STR)
#: Longer keys are never issued by Django (32 chars); refusing them keeps junk cookies out of Redis.
MAX_KEY_LENGTH = 64
#: How much of a session value ``GETRANGE`` reads to see its header.
HEADER_MAX = 300
USER_AGENT_MAX = 256


@dataclasses.dataclass(frozen=True)
class Header:
    """What the user's index knew about a session when it was last written."""

    uid: str | None = None
    indexed_at: int = 0
    score: int = 0

    def pack(self) -> bytes:
        if self.uid is None:
            return VERSION + b"\n"
        return b"%s %d %d %s\n" % (VERSION, self.indexed_at, self.score, quote(self.uid, safe="").encode())


ANONYMOUS = Header()


def pack(header: Header, body: bytes) -> bytes:
    return header.pack() + body


def parse_header(line: bytes) -> Header | None:
    fields = line.split(b" ")
    if fields[0] != VERSION:
        return None
    if len(fields) == 1:
        return ANONYMOUS
    if len(fields) != 4:
        return None
    try:
        return Header(uid=unquote(fields[3].decode("ascii")), indexed_at=int(fields[1]), score=int(fields[2]))
    except (ValueError, UnicodeDecodeError):
        return None


def unpack(raw: bytes) -> tuple[Header, bytes] | None:
    """(header, sealed body) of a stored session; None when it is not in this format."""
    line, sep, body = raw.partition(b"\n")
    header = parse_header(line) if sep else None
    if header is None:
        return None
    return header, body


def header_of_prefix(raw: bytes | None) -> Header | None:
    """The header from the first ``HEADER_MAX`` bytes of a value (``GETRANGE``)."""
    if not raw:
        return None
    line, sep, _ = raw.partition(b"\n")
    return parse_header(line) if sep else None


def valid_key(key: str | None) -> bool:
    return bool(key) and 8 <= len(key) <= MAX_KEY_LENGTH and VALID_KEY_CHARS.issuperset(key)  # type: ignore[arg-type]


def session_key(prefix: str, key: str) -> str:
    return f"{prefix}s:{key}"


def index_keys(prefix: str, uid: str) -> tuple[str, str]:
    """(sorted set, hash) of one user's index; one hash tag so they share a slot."""
    base = f"{prefix}u:{{{uid}}}"
    return f"{base}:z", f"{base}:h"


def revocation_keys(prefix: str, uid: str) -> tuple[str, str]:
    """(tombstones sorted set, rotations hash) of one user; same hash tag as the index."""
    base = f"{prefix}u:{{{uid}}}"
    return f"{base}:t", f"{base}:l"


def ref(key: str) -> str:
    """A public handle for a session (pages must never show other sessions' keys)."""
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def clean_text(value: str | None, limit: int) -> str:
    """Index fields are tab-separated: no tabs/newlines, bounded length."""
    if not value:
        return ""
    return " ".join(value.split())[:limit]


@dataclasses.dataclass(frozen=True)
class Meta:
    created: int
    seen: int
    ip: str
    user_agent: str


def parse_meta(raw: bytes | str | None) -> Meta | None:
    if raw is None:
        return None
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    parts = text.split("\t", 3)
    if len(parts) != 4:
        return None
    try:
        return Meta(created=int(parts[0]), seen=int(parts[1]), ip=parts[2], user_agent=parts[3])
    except ValueError:
        return None
