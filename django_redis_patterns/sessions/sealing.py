"""Integrity of stored session data: an HMAC-SHA256 over (session key, serialized data).

Cheaper than ``django.core.signing`` (no base64, no timestamp, no compression attempt, the
HMAC key derived once), which matters because it runs on every load and save. The MAC
binds the data to its session key, so data copied to another key is rejected too.
``SECRET_KEY_FALLBACKS`` are accepted when reading, like Django's own signing.
"""

from __future__ import annotations

import functools
import hashlib
import hmac

from django.conf import settings
from django.utils.encoding import force_bytes

MAC_SIZE = 32


@functools.lru_cache(maxsize=32)
def _derived(salt: str, secret: str | bytes) -> bytes:
    # As django.utils.crypto.salted_hmac derives its key.
    return hashlib.sha256(force_bytes(salt + "redis-session") + force_bytes(secret)).digest()


def _mac(key: bytes, session_key: str, payload: bytes) -> bytes:
    return hmac.new(key, session_key.encode() + b"\0" + payload, hashlib.sha256).digest()


def seal(salt: str, session_key: str, payload: bytes) -> bytes:
    return _mac(_derived(salt, settings.SECRET_KEY), session_key, payload) + payload


def unseal(salt: str, session_key: str, body: bytes) -> bytes | None:
    """The payload if its MAC checks out under SECRET_KEY or a fallback; None otherwise."""
    if len(body) < MAC_SIZE:
        return None
    mac, payload = body[:MAC_SIZE], body[MAC_SIZE:]
    for secret in (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ())):
        if hmac.compare_digest(mac, _mac(_derived(salt, secret), session_key, payload)):
            return payload
    return None
