"""The cached user as stored in Redis: a signed, versioned record of field values (pure: no I/O).

Never a pickle. Whoever can write a Redis key must not be able to run code in the web workers
(a pickle runs whatever its ``__reduce__`` names when it is loaded) nor to log a session in as
someone else (a forged copy of a user). So a copy is::

    drpU 1 <32-byte HMAC-SHA256> <JSON>

``drpU`` says who wrote it, ``1`` is the format version, the MAC (:mod:`.sealing`: a key derived
from ``SECRET_KEY``, ``SECRET_KEY_FALLBACKS`` accepted when reading) covers the Redis key name and
the JSON, so a record copied to another user's key is refused too. The JSON holds the version
token the copy was made under, an expiry (so a record captured earlier cannot be replayed after
``USER_CACHE_TIMEOUT``), the user's concrete field values and those of its
``USER_SELECT_RELATED`` rows (``null``: the user has no such row). Values are written the way
Django's serializers write them (``Field.value_to_string`` unless JSON holds them as they are) and
read back with ``Field.to_python``; :func:`unpack` rebuilds model instances with
``Model.from_db``, exactly as a database read would.

Anything else — an unsigned value, a bad MAC, another format version, a record for another
user model — is refused with a reason, and the caller reads the database.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import router
from django.db.models import JSONField, Model

from . import sealing

MAGIC = b"drpU"
FORMAT = b"1"
#: Salt of the MAC key (distinct from the session engine's, so neither verifies the other's data).
SALT = "django_redis_patterns.sessions.auth.CachedModelBackend"
_HEAD = len(MAGIC) + len(FORMAT)


class Refused(Exception):
    """A stored value that is not a current record signed by this site; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _values(obj: Model) -> list[Any]:
    out = []
    for field in obj._meta.concrete_fields:
        value = getattr(obj, field.attname)
        if value is None or isinstance(field, JSONField) or type(value) in (str, int, float, bool):
            out.append(value)
        else:  # datetimes, decimals, UUIDs, ...: as Django's serializers write them
            out.append(field.value_to_string(obj))
    return out


def _rebuild(model: type[Model], db: str, values: list[Any]) -> Model:
    fields = model._meta.concrete_fields
    if not isinstance(values, list) or len(values) != len(fields):
        raise Refused("its fields do not match the model")
    python = [
        None if v is None or isinstance(f, JSONField) else f.to_python(v) for f, v in zip(fields, values, strict=True)
    ]
    return model.from_db(db, [f.attname for f in fields], python)


def pack(key: str, version: str, user: Model, related: list[str], timeout: int) -> bytes:
    """The signed record of ``user`` (and its ``related`` rows, as select_related left them)."""
    rows: dict[str, Any] = {}
    for name in related:
        try:
            row = getattr(user, name)  # read with select_related: no query
        except ObjectDoesNotExist:
            row = None
        rows[name] = None if row is None else _values(row)
    body = {
        "version": version,
        "expires": int(time.time()) + timeout,
        "model": user._meta.label_lower,
        "fields": _values(user),
        "related": rows,
    }
    data = json.dumps(body, separators=(",", ":")).encode()
    mac = sealing.seal(SALT, key, FORMAT + data)[: sealing.MAC_SIZE]
    return MAGIC + FORMAT + mac + data


def unpack(key: str, raw: bytes, model: type[Model], related: list[str]) -> tuple[str, Model]:
    """(version token, user with its related rows cached) from a record; :class:`Refused` otherwise."""
    if not raw.startswith(MAGIC):
        raise Refused("not written by this package (unsigned)")
    if raw[len(MAGIC) : _HEAD] != FORMAT:
        raise Refused(f"unknown record version ({raw[len(MAGIC) : _HEAD]!r})")
    mac, data = raw[_HEAD : _HEAD + sealing.MAC_SIZE], raw[_HEAD + sealing.MAC_SIZE :]
    if len(mac) < sealing.MAC_SIZE or sealing.unseal(SALT, key, mac + FORMAT + data) is None:
        raise Refused("bad signature")
    try:
        body = json.loads(data)
        if body["model"] != model._meta.label_lower or sorted(body["related"]) != sorted(related):
            raise Refused("made for another user model or USER_SELECT_RELATED")
        if not isinstance(body["expires"], int) or body["expires"] < time.time():
            raise Refused("expired")
        db = router.db_for_read(model)
        user = _rebuild(model, db, body["fields"])
        for name in related:
            field: Any = model._meta.get_field(name)
            values = body["related"][name]
            row = None if values is None else _rebuild(field.related_model, db, values)
            field.set_cached_value(user, row)
            if row is not None:
                field.remote_field.set_cached_value(row, user)
        version = body["version"]
    except Refused:
        raise
    except Exception as exc:  # signed by us but unreadable now (e.g. a field's format changed)
        raise Refused(f"unreadable ({type(exc).__name__}: {exc})") from exc
    if not isinstance(version, str):
        raise Refused("unreadable (no version)")
    return version, user
