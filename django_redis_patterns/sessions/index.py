"""A user's sessions without a database: list, revoke, log out everywhere.

The index (see :mod:`.records`) is a *superset* of the user's live sessions, kept so by
the order of writes, because on Cluster the index and each session live in different
slots and no transaction can span them:

* adding: the index entry is written before the session (and an entry whose session
  write then fails is harmless, see below);
* removing: the session is deleted before its index entry.

Every write is idempotent, so a retry or a crash between two steps leaves the index
with at most some stale entries. Reading the index therefore checks each entry against
its session (still there? still this user's?) and drops the stale ones, so
:func:`user_sessions` lists exactly the user's live sessions. Entries also expire from
the index on their own (pruned by the next write, and the index keys carry a TTL).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio.client
import redis.client

from ..client import connections, instrument, scripts
from ..client.connections import is_cluster
from . import records, replication
from .devices import Device, describe
from .errors import guard
from .runtime import Runtime, current

TOUCH = scripts.load("index_touch", package="django_redis_patterns.sessions")
REVOKE = scripts.load("revoke", package="django_redis_patterns.sessions")


class SessionRevoked(Exception):
    """The session (or the one it replaces) was revoked: it must not be written or indexed."""


@dataclasses.dataclass(frozen=True)
class UserSession:
    """One of a user's live sessions, ready for a template."""

    session_key: str
    #: Public handle (a hash of the key): put this in pages and forms, never ``session_key``.
    ref: str
    created: datetime | None
    last_seen: datetime | None
    expires: datetime | None
    ip: str
    user_agent: str
    #: True for the session of the request that asked (``current=`` argument).
    current: bool = False

    @property
    def device(self) -> Device:
        """The parsed User-Agent: ``.label`` is "Firefox on Ubuntu", "Safari on iPhone"..."""
        return describe(self.user_agent)


def user_id(user: Any, argument: str = "user") -> str:
    """The id the index is keyed by: what ``django.contrib.auth`` stores in the session."""
    if user is None or user == "":
        raise ValueError(f"{argument}: a user (or user id) is required, got {user!r}")
    if getattr(user, "is_authenticated", True) is False:
        raise ValueError(f"{argument}: anonymous users have no sessions")
    meta = getattr(user, "_meta", None)
    if meta is not None:
        if user.pk is None:
            raise ValueError(f"{argument}: {user!r} is not saved (no primary key)")
        return str(meta.pk.value_to_string(user))
    return str(user)


def _key_of(value: Any) -> str | None:
    """A session key from a key, a SessionStore or a request."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    session = getattr(value, "session", value)
    return getattr(session, "session_key", None)


def _is_pipeline(target: Any) -> bool:
    return isinstance(target, redis.client.Pipeline | redis.asyncio.client.Pipeline) or hasattr(target, "command_stack")


def _touch_args(rt: Runtime, uid: str, key: str, ttl_ms: int, ip: str, ua: str, replaces: str) -> tuple[list, list]:
    keys = [*records.index_keys(rt.prefix, uid), *records.revocation_keys(rt.prefix, uid)]
    args = [
        key,
        ttl_ms,
        records.clean_text(ip, 64),
        records.clean_text(ua, records.USER_AGENT_MAX),
        rt.grace_ms,
        replaces or "",
    ]
    return keys, args


# -- used by the session store ------------------------------------------------------------


def _touched(reply: Any, key: str) -> int:
    now = int(reply)
    if now < 0:
        raise SessionRevoked(key)
    return now


def touch(rt: Runtime, client: Any, uid: str, key: str, ttl_ms: int, ip: str, ua: str, replaces: str = "") -> int:
    """Add/refresh ``key`` in ``uid``'s index; Redis's clock (ms) at the write.

    Raises :class:`SessionRevoked` (and writes nothing) if ``key`` or ``replaces`` was revoked.
    """
    keys, args = _touch_args(rt, uid, key, ttl_ms, ip, ua, replaces)

    def queue(target: Any) -> Any:
        if _is_pipeline(target):
            return TOUCH.queue(target, keys, args)
        return TOUCH(target, keys, args)

    with guard(rt.alias, "EVALSHA index_touch"):
        return _touched(replication.write(rt, client, keys[0], "EVALSHA index_touch", queue), key)


async def atouch(
    rt: Runtime, client: Any, uid: str, key: str, ttl_ms: int, ip: str, ua: str, replaces: str = ""
) -> int:
    keys, args = _touch_args(rt, uid, key, ttl_ms, ip, ua, replaces)

    def queue(target: Any) -> Any:
        if _is_pipeline(target):
            return TOUCH.queue(target, keys, args)
        return TOUCH.acall(target, keys, args)

    with guard(rt.alias, "EVALSHA index_touch"):
        return _touched(await replication.awrite(rt, client, keys[0], "EVALSHA index_touch", queue), key)


def _queue_remove(pipe: Any, rt: Runtime, uid: str, session_keys: Sequence[str]) -> None:
    zset, hash_ = records.index_keys(rt.prefix, uid)
    pipe.zrem(zset, *session_keys)
    pipe.hdel(hash_, *session_keys)


def remove(rt: Runtime, client: Any, uid: str, session_keys: Sequence[str]) -> None:
    """Drop entries (idempotent; both keys share a slot, so one round trip on Cluster too)."""
    if not session_keys:
        return
    with guard(rt.alias, "ZREM"):
        pipe = client.pipeline(transaction=False)
        _queue_remove(pipe, rt, uid, session_keys)
        pipe.execute()


async def aremove(rt: Runtime, client: Any, uid: str, session_keys: Sequence[str]) -> None:
    if not session_keys:
        return
    with guard(rt.alias, "ZREM"):
        pipe = client.pipeline(transaction=False)
        _queue_remove(pipe, rt, uid, session_keys)
        await pipe.execute()


# -- reading ----------------------------------------------------------------------------


def _ms_to_dt(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms else None


def _decode(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _queue_read(pipe: Any, rt: Runtime, uid: str) -> None:
    zset, hash_ = records.index_keys(rt.prefix, uid)
    pipe.zrange(zset, 0, -1)
    pipe.hgetall(hash_)


def _queue_check(pipe: Any, rt: Runtime, members: list[str]) -> None:
    for member in members:
        key = records.session_key(rt.prefix, member)
        pipe.getrange(key, 0, records.HEADER_MAX)
        pipe.pttl(key)


def _judge(
    uid: str, members: list[str], metas: dict[Any, Any], checks: list[Any], current_key: str | None
) -> tuple[list[UserSession], list[str]]:
    """(live sessions newest first, stale members) from the index and each session's header + PTTL."""
    metas = {_decode(k): v for k, v in metas.items()}
    now = time.time()
    live: list[UserSession] = []
    stale: list[str] = []
    for i, member in enumerate(members):
        header = records.header_of_prefix(checks[2 * i])
        pttl = int(checks[2 * i + 1])
        if header is None or header.uid != uid or pttl == -2:
            stale.append(member)
            continue
        meta = records.parse_meta(metas.get(member))
        live.append(
            UserSession(
                session_key=member,
                ref=records.ref(member),
                created=_ms_to_dt(meta.created) if meta else None,
                last_seen=_ms_to_dt(meta.seen) if meta else None,
                expires=datetime.fromtimestamp(now, tz=UTC) + timedelta(milliseconds=pttl) if pttl > 0 else None,
                ip=meta.ip if meta else "",
                user_agent=meta.user_agent if meta else "",
                current=member == current_key,
            )
        )
    live.sort(key=lambda s: s.last_seen or datetime.min.replace(tzinfo=UTC), reverse=True)
    return live, stale


def _client(rt: Runtime) -> Any:
    return connections.get_redis(rt.alias)


def user_sessions(user: Any, *, current: Any = None) -> list[UserSession]:
    """The user's live sessions, most recently seen first.

    ``user``: a user instance or its primary key. ``current``: a session key, session
    or request whose session gets ``current=True``. Stale index entries found on the way
    are removed. Raises :class:`~.errors.SessionUnavailable` if Redis is unreachable.
    """
    uid = user_id(user)
    rt = _current_rt()
    client = _client(rt)
    with guard(rt.alias, "ZRANGE"):
        pipe = client.pipeline(transaction=False)
        _queue_read(pipe, rt, uid)
        raw_members, metas = pipe.execute()
        members = [_decode(m) for m in raw_members]
        checks: list[Any] = []
        if members:
            pipe = client.pipeline(transaction=False)
            _queue_check(pipe, rt, members)
            checks = pipe.execute()
    live, stale = _judge(uid, members, metas, checks, _key_of(current))
    remove(rt, client, uid, stale)
    return live


async def auser_sessions(user: Any, *, current: Any = None) -> list[UserSession]:
    """Async twin of :func:`user_sessions`."""
    uid = user_id(user)
    rt = _current_rt()
    client = await connections.aget_redis(rt.alias)
    with guard(rt.alias, "ZRANGE"):
        pipe = client.pipeline(transaction=False)
        _queue_read(pipe, rt, uid)
        raw_members, metas = await pipe.execute()
        members = [_decode(m) for m in raw_members]
        checks: list[Any] = []
        if members:
            pipe = client.pipeline(transaction=False)
            _queue_check(pipe, rt, members)
            checks = await pipe.execute()
    live, stale = _judge(uid, members, metas, checks, _key_of(current))
    await aremove(rt, client, uid, stale)
    return live


# -- revoking ---------------------------------------------------------------------------


def _del(target: Any, *, keys: tuple[str, ...]) -> Any:
    return target.delete(*keys)


def _revoke_args(rt: Runtime, uid: str, every: bool, keep: str | None, session_keys: list[str]) -> tuple[list, list]:
    keys = [*records.index_keys(rt.prefix, uid), *records.revocation_keys(rt.prefix, uid)]
    return keys, [rt.grace_ms, "all" if every else "some", keep or "", *session_keys]


def _queue_revoke(keys: list, args: list, target: Any, *, asynchronous: bool = False) -> Any:
    if _is_pipeline(target):
        return REVOKE.queue(target, keys, args)
    return REVOKE.acall(target, keys, args) if asynchronous else REVOKE(target, keys, args)


def _session_keys(rt: Runtime, revoked: list[Any]) -> list[str]:
    return [records.session_key(rt.prefix, _decode(k)) for k in revoked]


def _revoke(
    rt: Runtime, client: Any, uid: str, session_keys: list[str], *, every: bool = False, keep: str | None = None
) -> None:
    """Tombstone the sessions (following rotations), delete them, then their index entries.

    The tombstones come first and in the index's slot, where every cycle_key checks them,
    so a request that still holds one of these sessions cannot carry its login to a new key.
    """
    if instrument.LISTENERS:
        instrument.emit("sessions", "revoke", rt.alias, sessions=len(session_keys), every=every)
    if not session_keys and not every:
        return
    keys, args = _revoke_args(rt, uid, every, keep, session_keys)
    with guard(rt.alias, "EVALSHA revoke"):
        revoked = replication.write(rt, client, keys[0], "EVALSHA revoke", functools.partial(_queue_revoke, keys, args))
    targets = _session_keys(rt, revoked)
    if not targets:
        return
    if is_cluster(client):
        for key in targets:  # each WAIT must reach the key's own node
            with guard(rt.alias, "DEL"):
                replication.write(rt, client, key, "DEL", functools.partial(_del, keys=(key,)))
    else:
        with guard(rt.alias, "DEL"):
            replication.write(rt, client, targets[0], "DEL", functools.partial(_del, keys=tuple(targets)))
    remove(rt, client, uid, [_decode(k) for k in revoked])


async def _arevoke(
    rt: Runtime, client: Any, uid: str, session_keys: list[str], *, every: bool = False, keep: str | None = None
) -> None:
    if instrument.LISTENERS:
        instrument.emit("sessions", "revoke", rt.alias, sessions=len(session_keys), every=every)
    if not session_keys and not every:
        return
    keys, args = _revoke_args(rt, uid, every, keep, session_keys)
    with guard(rt.alias, "EVALSHA revoke"):
        revoked = await replication.awrite(
            rt, client, keys[0], "EVALSHA revoke", functools.partial(_queue_revoke, keys, args, asynchronous=True)
        )
    targets = _session_keys(rt, revoked)
    if not targets:
        return
    if is_cluster(client):
        for key in targets:
            with guard(rt.alias, "DEL"):
                await replication.awrite(rt, client, key, "DEL", functools.partial(_del, keys=(key,)))
    else:
        with guard(rt.alias, "DEL"):
            await replication.awrite(rt, client, targets[0], "DEL", functools.partial(_del, keys=tuple(targets)))
    await aremove(rt, client, uid, [_decode(k) for k in revoked])


def _match(sessions: list[UserSession], session: str) -> UserSession | None:
    return next((s for s in sessions if session in (s.session_key, s.ref)), None)


def revoke_session(user: Any, session: str) -> bool:
    """Log ``user`` out of one session, given its key or its ``ref``.

    Only a session that belongs to ``user`` is touched. True if one was deleted. The
    session can never come back: a request still holding it cannot save it or move its
    login to a new key (``cycle_key``), and a key it was just rotated to goes with it.
    """
    if not session or not isinstance(session, str):
        raise ValueError(f"session: a session key or ref is required, got {session!r}")
    found = _match(user_sessions(user), session)
    if found is None:
        return False
    rt = _current_rt()
    _revoke(rt, _client(rt), user_id(user), [found.session_key])
    return True


async def arevoke_session(user: Any, session: str) -> bool:
    """Async twin of :func:`revoke_session`."""
    if not session or not isinstance(session, str):
        raise ValueError(f"session: a session key or ref is required, got {session!r}")
    found = _match(await auser_sessions(user), session)
    if found is None:
        return False
    rt = _current_rt()
    await _arevoke(rt, await connections.aget_redis(rt.alias), user_id(user), [found.session_key])
    return True


def logout_everywhere(user: Any, keep: Any = None) -> int:
    """Delete every session of ``user`` except ``keep`` (a session key, session or request).

    Those browsers are anonymous at their next request; as with :func:`revoke_session`, none
    of those sessions can come back. Returns how many live sessions were deleted.
    """
    keep_key = _key_of(keep)
    targets = [s.session_key for s in user_sessions(user) if s.session_key != keep_key]
    rt = _current_rt()
    # "every": the index as it is when the tombstones are written, not as it was read above
    _revoke(rt, _client(rt), user_id(user), targets, every=True, keep=keep_key)
    return len(targets)


async def alogout_everywhere(user: Any, keep: Any = None) -> int:
    """Async twin of :func:`logout_everywhere`."""
    keep_key = _key_of(keep)
    targets = [s.session_key for s in await auser_sessions(user) if s.session_key != keep_key]
    rt = _current_rt()
    await _arevoke(rt, await connections.aget_redis(rt.alias), user_id(user), targets, every=True, keep=keep_key)
    return len(targets)


def _current_rt() -> Runtime:
    return current()
