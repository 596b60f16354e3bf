"""``SESSION_ENGINE = "django_redis_patterns.sessions.backend"``: sessions in Redis.

The cache alias is Django's ``SESSION_CACHE_ALIAS``; its client comes from the
connection layer, so standalone (with replicas), Sentinel and Cluster all work.

Cost per request: a request that reads, changes and saves its session sends one ``GET``
and one ``SET ... XX PX <age>`` (Django's cache engine: two GETs and a SET). Creating is
``SET ... NX PX`` retried on the (astronomically rare) key collision; updating is
``SET ... XX`` so a session deleted meanwhile (logout elsewhere, revocation) is never
brought back: ``UpdateError``, as Django's middleware expects. The Redis TTL is always
``get_expiry_age()``. Data is written by ``SESSION_SERIALIZER`` (JSON by default) and
sealed with an HMAC (:mod:`.sealing`); unreadable data is an empty session and one log line.

A session that belongs to a user is also kept in that user's index (see :mod:`.index`);
that costs one more call at login and at most once per ``INDEX_REFRESH`` seconds.

With ``MIGRATE_FROM`` set, a load that finds nothing carries the session of Django's
``cache`` / ``cached_db`` engine over (see :mod:`.migration`); a load that finds ours never
looks there.
"""

from __future__ import annotations

import logging
import time
from typing import Any, cast

from django.contrib.sessions.backends.base import CreateError, SessionBase, UpdateError
from django.utils.crypto import get_random_string

from ..client import connections, instrument, scripts
from . import index, migration, records, replication, sealing
from .errors import SessionUnavailable, guard
from .runtime import Runtime, current

#: ``django.contrib.auth``'s session key for the user id (not imported: auth is optional).
AUTH_USER_KEY = "_auth_user_id"
#: Collisions of 32 random [a-z0-9] characters do not happen; a loop that keeps failing
#: means something else is wrong, so it stops early instead of Django's 10,000 tries.
CREATE_ATTEMPTS = 10

logger = logging.getLogger("django_redis_patterns.sessions")
SET_HEADER = scripts.load("set_header", package="django_redis_patterns.sessions")


class SessionStore(SessionBase):
    """Redis session store with native async twins (``aload``, ``asave``...)."""

    def __init__(self, session_key: str | None = None, *, ip: str | None = None, user_agent: str | None = None):
        super().__init__(session_key)
        #: Client details recorded in the user's session index (set by the middleware or the login signal).
        self.client_ip = ip
        self.user_agent = user_agent
        #: Header of what was loaded (None: nothing loaded / new session).
        self._header: records.Header | None = None
        #: Set when Redis failed under ON_ERROR="anonymous": no further Redis calls.
        self._unavailable = False
        #: During cycle_key: the key being replaced (the index carries its details over).
        self._replacing = ""

    @property
    def unavailable(self) -> bool:
        """True once Redis failed in this session's request under ``ON_ERROR="anonymous"``: the
        session looks empty because it could not be read, not because the visitor is new or
        logged out. Views that must not tell a logged-in client "log in" (a JSON API's 401)
        answer 503 instead."""
        return self._unavailable

    # -- plumbing -------------------------------------------------------------------------

    @property
    def _rt(self) -> Runtime:
        return current()

    def _redis_key(self, key: str) -> str:
        return records.session_key(self._rt.prefix, key)

    def _validate_session_key(self, key: Any) -> bool:
        # Only keys this engine could have issued reach Redis: junk cookies cost nothing.
        return records.valid_key(key)

    def _degrade(self, exc: SessionUnavailable) -> None:
        """ON_ERROR="anonymous": swallow (already logged once per incident); else re-raise."""
        if instrument.LISTENERS:
            instrument.emit("sessions", "error", self._rt.alias, on_error=self._rt.on_error)
        if self._rt.on_error != "anonymous":
            raise exc
        self._unavailable = True

    def _decode_record(self, key: str, raw: bytes | str | None) -> dict[str, Any]:
        if raw is None:
            self._session_key = None
            self._header = None
            return {}
        self._header = None
        # redis-py types GET as bytes | str; our clients never decode replies, so it is bytes.
        unpacked = records.unpack(cast(bytes, raw))
        if unpacked is None:
            return self._unreadable("is not in this engine's format")
        header, body = unpacked
        payload = sealing.unseal(self.key_salt, key, body)
        if payload is None:
            return self._unreadable("failed its integrity check (tampered with, or written under another SECRET_KEY)")
        try:
            data = self.serializer().loads(payload)
        except Exception as exc:
            return self._unreadable(f"could not be deserialized by SESSION_SERIALIZER ({type(exc).__name__}: {exc})")
        if not isinstance(data, dict):
            return self._unreadable(f"holds a {type(data).__name__}, not a dict")
        self._header = header
        return data

    def _unreadable(self, why: str) -> dict[str, Any]:
        # The key is kept: the next save overwrites the bad data (SET XX), as Django's db engine does.
        logger.warning("Session data in Redis %s (cache alias %r); using an empty session", why, self._rt.alias)
        return {}

    def _encode_record(self, key: str, header: records.Header, data: dict[str, Any]) -> bytes:
        return records.pack(header, sealing.seal(self.key_salt, key, self.serializer().dumps(data)))

    def _expiry_ms(self, data: dict[str, Any]) -> int:
        return int(self.get_expiry_age(expiry=data.get("_session_expiry"))) * 1000

    def _index_plan(self, data: dict[str, Any], ttl_ms: int) -> tuple[str | None, bool]:
        """(user id to index under, whether the index entry must be written now)."""
        rt = self._rt
        uid = data.get(AUTH_USER_KEY) if rt.index else None
        if uid is None:
            return None, False
        uid = str(uid)
        h = self._header
        if h is None or h.uid != uid:
            return uid, True
        now_ms = int(time.time() * 1000)
        # Refresh "last seen" now and then, and whenever the session now outlives its entry.
        return uid, now_ms - h.indexed_at >= rt.refresh_ms or now_ms + ttl_ms > h.score + rt.refresh_ms

    def _unrefreshed_header(self, uid: str | None, refresh: bool) -> records.Header:
        if uid is None:
            return records.ANONYMOUS
        if refresh or self._header is None:  # a new key: indexed right after it is stored
            return records.Header(uid=uid)  # indexed_at 0: if that fails, the next save indexes it
        return self._header

    def _meta(self) -> tuple[str, str]:
        return self.client_ip or "", self.user_agent or ""

    def _migratable(self, found: migration.Found | None) -> tuple[dict[str, Any], int] | None:
        """(data, TTL in ms) of an old engine's session this engine can store, else None."""
        if found is None:
            return None
        try:
            self.serializer().dumps(found.data)
        except Exception as exc:
            logger.warning(
                "MIGRATE_FROM: the old session cannot be written by SESSION_SERIALIZER (%s: %s); not carried over",
                type(exc).__name__,
                exc,
            )
            return None
        ttl_ms = found.ttl_ms if found.ttl_ms is not None else self._expiry_ms(found.data)
        return (found.data, ttl_ms) if ttl_ms > 0 else None

    # -- sync -----------------------------------------------------------------------------

    def load(self) -> dict[str, Any]:
        if instrument.LISTENERS and self.session_key is not None and not self._unavailable:
            with instrument.operation("sessions", "load", alias=self._rt.alias):
                data = self._load()
            instrument.emit("sessions", "load", self._rt.alias, found=bool(data))
            return data
        return self._load()

    def _load(self) -> dict[str, Any]:
        key = self.session_key
        if key is None or self._unavailable:
            return {}
        rt = self._rt
        try:
            with guard(rt.alias, "GET"):
                raw = connections.get_redis(rt.alias).get(self._redis_key(key))
        except SessionUnavailable as exc:
            self._degrade(exc)
            return {}
        if raw is None and rt.migrate_from is not None:
            return self._migrate(key)
        return self._decode_record(key, raw)

    def _migrate(self, key: str) -> dict[str, Any]:
        """MIGRATE_FROM: nothing here for ``key``; carry the old engine's session over (see :mod:`.migration`)."""
        rt = self._rt
        try:
            found = self._migratable(migration.lookup(rt, key))
            if found is None:
                return self._decode_record(key, None)
            try:
                self._save(True, found)
            except CreateError:  # a concurrent request carried it over first: read its copy
                with guard(rt.alias, "GET"):
                    raw = connections.get_redis(rt.alias).get(self._redis_key(key))
                return self._decode_record(key, raw)
            if not migration.claim(rt, key):  # deleted there meanwhile (a logout): don't resurrect it
                self.delete(key)
                return self._decode_record(key, None)
        except SessionUnavailable as exc:
            self._degrade(exc)
            return {}
        return found[0]

    def exists(self, session_key: str | None) -> bool:
        if not records.valid_key(session_key) or self._unavailable:
            return False
        rt = self._rt
        try:
            with guard(rt.alias, "EXISTS"):
                return bool(connections.get_redis(rt.alias).exists(self._redis_key(session_key)))  # type: ignore[arg-type]
        except SessionUnavailable as exc:
            self._degrade(exc)
            return False

    def create(self) -> None:
        if self._unavailable:
            return  # ON_ERROR="anonymous": keep the key the browser has, store nothing
        previous = self.session_key
        for _ in range(CREATE_ATTEMPTS):
            self._session_key = get_random_string(32, records.VALID_KEY_CHARS_STR)
            self._header = None  # a new key is in no index yet
            try:
                self.save(must_create=True)
            except CreateError:
                continue
            if self._unavailable:
                self._session_key = previous
                return
            self.modified = True
            return
        raise RuntimeError(f"Unable to create a new session key in {CREATE_ATTEMPTS} attempts.")

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
        if self._unavailable:
            return None
        try:
            if instrument.LISTENERS:
                with instrument.operation("sessions", "save", alias=self._rt.alias):
                    self._save(must_create)
                instrument.emit("sessions", "save", self._rt.alias)
            else:
                self._save(must_create)
        except SessionUnavailable as exc:
            self._degrade(exc)
        return None

    def _save(self, must_create: bool, migrated: tuple[dict[str, Any], int] | None = None) -> None:
        rt = self._rt
        client = connections.get_redis(rt.alias)
        key = self.session_key
        assert key is not None
        if migrated is None:
            data = self._get_session(no_load=must_create)  # type: ignore[attr-defined]
            ttl_ms = self._expiry_ms(data)
        else:  # MIGRATE_FROM: the old engine's data and remaining lifetime
            data, ttl_ms = migrated
        old = self._header
        if ttl_ms <= 0:  # already expired: nothing to keep
            if not must_create:
                self.delete(key)
            return
        uid, refresh = self._index_plan(data, ttl_ms)
        ip, ua = self._meta()
        if refresh and not must_create:  # index first: it must never miss a live session
            try:
                now = index.touch(rt, client, uid, key, ttl_ms, ip, ua, self._replacing)  # type: ignore[arg-type]
            except index.SessionRevoked:
                raise UpdateError  # revoked: as if deleted (Django answers SessionInterrupted)
            header = records.Header(uid=uid, indexed_at=now, score=now + ttl_ms)
        else:
            header = self._unrefreshed_header(uid, refresh)
        value = self._encode_record(key, header, data)
        redis_key = self._redis_key(key)
        flag = {"nx": True} if must_create else {"xx": True}
        with guard(rt.alias, "SET"):
            stored = replication.write(
                rt, client, redis_key, "SET", lambda t: t.set(redis_key, value, px=ttl_ms, **flag)
            )
        if not stored:
            if must_create:
                raise CreateError
            if refresh:
                index.remove(rt, client, uid, [key])  # type: ignore[arg-type]
            raise UpdateError
        self._header = header
        if refresh and must_create:
            # A new key can only be indexed once it is ours (SET NX won), so after the SET.
            try:
                now = index.touch(rt, client, uid, key, ttl_ms, ip, ua, self._replacing)  # type: ignore[arg-type]
            except index.SessionRevoked:
                # cycle_key of a revoked session: the copy we just wrote must not live
                with guard(rt.alias, "DEL"):
                    replication.write(rt, client, redis_key, "DEL", lambda t: t.delete(redis_key))
                self._header = None
                raise
            self._header = records.Header(uid=uid, indexed_at=now, score=now + ttl_ms)
        if old is not None and old.uid and old.uid != uid:
            index.remove(rt, client, old.uid, [key])

    def delete(self, session_key: str | None = None) -> None:
        if instrument.LISTENERS:
            with instrument.operation("sessions", "delete", alias=self._rt.alias):
                self._delete(session_key)
            instrument.emit("sessions", "delete", self._rt.alias)
            return
        self._delete(session_key)

    def _delete(self, session_key: str | None = None) -> bool:
        """delete(); False only when Redis answered that the key was not there."""
        if session_key is None:
            if self.session_key is None:
                return True
            session_key = self.session_key
        if not records.valid_key(session_key) or self._unavailable:
            return True
        rt = self._rt
        raw: bytes | None = b""
        client = connections.get_redis(rt.alias)
        redis_key = self._redis_key(session_key)
        try:
            with guard(rt.alias, "GETDEL"):
                raw = replication.write(rt, client, redis_key, "GETDEL", lambda t: t.getdel(redis_key))
            header = records.header_of_prefix(raw)
            if header is not None and header.uid:  # session first, then its index entry
                index.remove(rt, client, header.uid, [session_key])
        except SessionUnavailable as exc:
            self._degrade(exc)
        if session_key == self.session_key:
            self._header = None
        return raw is not None

    def _quick_cycle_plan(self, data: dict[str, Any]) -> tuple[str, int] | None:
        """(old key, TTL) when cycle_key may create + delete in one pipeline, else None.

        That is the login case: an anonymous session, no index to keep ordered, no WAIT.
        The two writes are independent (a collision only means another try; the old key
        goes either way), so they need no order between them.
        """
        old_key = self.session_key
        if old_key is None or self._unavailable or self._rt.min_replicas or data.get(AUTH_USER_KEY) is not None:
            return None
        ttl_ms = self._expiry_ms(data)
        return (old_key, ttl_ms) if ttl_ms > 0 else None

    def _queue_quick_cycle(self, pipe: Any, old_key: str, ttl_ms: int, data: dict[str, Any]) -> None:
        self._session_key = get_random_string(32, records.VALID_KEY_CHARS_STR)
        new_key = self._redis_key(self.session_key)  # type: ignore[arg-type]
        pipe.set(new_key, self._encode_record(self.session_key, records.ANONYMOUS, data), px=ttl_ms, nx=True)  # type: ignore[arg-type]
        pipe.getdel(self._redis_key(old_key))

    def _after_quick_cycle(self, replies: list[Any], data: dict[str, Any]) -> tuple[bool, str | None]:
        """(created, user id whose index lists the old key)."""
        header = records.header_of_prefix(replies[1])
        if replies[0]:
            self._header = records.ANONYMOUS
            self._session_cache = data
            self.modified = True
        return bool(replies[0]), header.uid if header is not None else None

    def cycle_key(self) -> None:
        data = self._session  # type: ignore[attr-defined]
        if self._unavailable:
            return
        plan = self._quick_cycle_plan(data)
        if plan is None:
            self._cycle_keeping_login(data)
            return
        old_key, ttl_ms = plan
        rt = self._rt
        client = connections.get_redis(rt.alias)
        try:
            for _ in range(CREATE_ATTEMPTS):
                pipe = client.pipeline(transaction=False)
                self._queue_quick_cycle(pipe, old_key, ttl_ms, data)
                with guard(rt.alias, "SET"):
                    created, old_uid = self._after_quick_cycle(pipe.execute(), data)
                if old_uid:
                    index.remove(rt, client, old_uid, [old_key])
                if created:
                    return
        except SessionUnavailable as exc:
            self._degrade(exc)
            self._session_key = old_key  # the browser keeps its cookie
            return
        raise RuntimeError(f"Unable to create a new session key in {CREATE_ATTEMPTS} attempts.")

    def _cycle_keeping_login(self, data: dict[str, Any]) -> None:
        """Django's cycle_key (create the new key with the data, delete the old one), except
        that the data never outlives a revoked or vanished old session.

        Revocation tombstones the old key in the user's index, which the new key's indexing
        checks atomically (refused: the new key is deleted), and follows a rotation recorded
        before it to the new key; an old key that is gone by the time it is deleted
        (revoked, logged out elsewhere, expired) also means the login must not be copied.
        Either way the request goes on with a new, empty session.
        """
        old_key = self.session_key
        self._replacing = old_key or ""
        try:
            self.create()
        except index.SessionRevoked:
            self._start_over()
            return
        finally:
            self._replacing = ""
        self._session_cache = data
        if old_key and not self._delete(old_key):
            self.delete(self.session_key)
            self._start_over()

    def _start_over(self) -> None:
        self._session_cache = {}
        self._session_key = None
        self._header = None
        self.create()

    async def _acycle_keeping_login(self, data: dict[str, Any]) -> None:
        old_key = self.session_key
        self._replacing = old_key or ""
        try:
            await self.acreate()
        except index.SessionRevoked:
            await self._astart_over()
            return
        finally:
            self._replacing = ""
        self._session_cache = data
        if old_key and not await self._adelete(old_key):
            await self.adelete(self.session_key)
            await self._astart_over()

    async def _astart_over(self) -> None:
        self._session_cache = {}
        self._session_key = None
        self._header = None
        await self.acreate()

    def touch_index(self) -> bool:
        """Refresh this session's entry in its user's index ("last seen", IP) if due; True if written.

        For requests that read the session without saving it (our middleware calls this):
        the entry, then the session's header so later requests know it is fresh. The
        session's data and TTL are left alone. At most once per ``INDEX_REFRESH``.
        """
        if self.session_key is None or self._unavailable or not hasattr(self, "_session_cache"):
            return False
        ttl_ms = self._expiry_ms(self._session_cache)
        uid, refresh = self._index_plan(self._session_cache, ttl_ms)
        if not refresh or uid is None or self._header is None or ttl_ms <= 0:
            return False
        rt = self._rt
        client = connections.get_redis(rt.alias)
        ip, ua = self._meta()
        try:
            now = index.touch(rt, client, uid, self.session_key, ttl_ms, ip, ua)
            header = records.Header(uid=uid, indexed_at=now, score=now + ttl_ms)
            with guard(rt.alias, "EVALSHA set_header"):
                SET_HEADER(client, [self._redis_key(self.session_key)], [header.pack()[:-1]])
        except index.SessionRevoked:
            return False  # the session is being deleted; nothing to refresh
        except SessionUnavailable as exc:
            self._degrade(exc)
            return False
        self._header = header
        return True

    @classmethod
    def clear_expired(cls) -> None:
        """Nothing to do: Redis expires sessions itself (and the index prunes itself)."""

    # -- async twins (redis.asyncio, no thread hops) ---------------------------------------

    async def aload(self) -> dict[str, Any]:
        """The async twin of :meth:`load`, on ``redis.asyncio``."""
        if instrument.LISTENERS and self.session_key is not None and not self._unavailable:
            async with instrument.operation("sessions", "load", alias=self._rt.alias):
                data = await self._aload()
            instrument.emit("sessions", "load", self._rt.alias, found=bool(data))
            return data
        return await self._aload()

    async def _aload(self) -> dict[str, Any]:
        key = self.session_key
        if key is None or self._unavailable:
            return {}
        rt = self._rt
        try:
            with guard(rt.alias, "GET"):
                raw = await (await connections.aget_redis(rt.alias)).get(self._redis_key(key))
        except SessionUnavailable as exc:
            self._degrade(exc)
            return {}
        if raw is None and rt.migrate_from is not None:
            return await self._amigrate(key)
        return self._decode_record(key, raw)

    async def _amigrate(self, key: str) -> dict[str, Any]:
        rt = self._rt
        try:
            found = self._migratable(await migration.alookup(rt, key))
            if found is None:
                return self._decode_record(key, None)
            try:
                await self._asave(True, found)
            except CreateError:
                with guard(rt.alias, "GET"):
                    raw = await (await connections.aget_redis(rt.alias)).get(self._redis_key(key))
                return self._decode_record(key, raw)
            if not await migration.aclaim(rt, key):
                await self.adelete(key)
                return self._decode_record(key, None)
        except SessionUnavailable as exc:
            self._degrade(exc)
            return {}
        return found[0]

    async def aexists(self, session_key: str | None) -> bool:
        """The async twin of :meth:`exists`, on ``redis.asyncio``."""
        if not records.valid_key(session_key) or self._unavailable:
            return False
        rt = self._rt
        try:
            with guard(rt.alias, "EXISTS"):
                client = await connections.aget_redis(rt.alias)
                return bool(await client.exists(self._redis_key(session_key)))  # type: ignore[arg-type]
        except SessionUnavailable as exc:
            self._degrade(exc)
            return False

    async def acreate(self) -> None:
        """The async twin of :meth:`create`, on ``redis.asyncio``."""
        if self._unavailable:
            return  # ON_ERROR="anonymous": keep the key the browser has, store nothing
        previous = self.session_key
        for _ in range(CREATE_ATTEMPTS):
            self._session_key = get_random_string(32, records.VALID_KEY_CHARS_STR)
            self._header = None  # a new key is in no index yet
            try:
                await self.asave(must_create=True)
            except CreateError:
                continue
            if self._unavailable:
                self._session_key = previous
                return
            self.modified = True
            return
        raise RuntimeError(f"Unable to create a new session key in {CREATE_ATTEMPTS} attempts.")

    async def asave(self, must_create: bool = False) -> None:
        """The async twin of :meth:`save`, on ``redis.asyncio``."""
        if self.session_key is None:
            return await self.acreate()
        if self._unavailable:
            return None
        try:
            if instrument.LISTENERS:
                async with instrument.operation("sessions", "save", alias=self._rt.alias):
                    await self._asave(must_create)
                instrument.emit("sessions", "save", self._rt.alias)
            else:
                await self._asave(must_create)
        except SessionUnavailable as exc:
            self._degrade(exc)
        return None

    async def _asave(self, must_create: bool, migrated: tuple[dict[str, Any], int] | None = None) -> None:
        rt = self._rt
        client = await connections.aget_redis(rt.alias)
        key = self.session_key
        assert key is not None
        if migrated is None:
            data = await self._aget_session(no_load=must_create)  # type: ignore[attr-defined]
            ttl_ms = self._expiry_ms(data)
        else:
            data, ttl_ms = migrated
        old = self._header
        if ttl_ms <= 0:
            if not must_create:
                await self.adelete(key)
            return
        uid, refresh = self._index_plan(data, ttl_ms)
        ip, ua = self._meta()
        if refresh and not must_create:
            try:
                now = await index.atouch(rt, client, uid, key, ttl_ms, ip, ua, self._replacing)  # type: ignore[arg-type]
            except index.SessionRevoked:
                raise UpdateError
            header = records.Header(uid=uid, indexed_at=now, score=now + ttl_ms)
        else:
            header = self._unrefreshed_header(uid, refresh)
        value = self._encode_record(key, header, data)
        redis_key = self._redis_key(key)
        flag = {"nx": True} if must_create else {"xx": True}
        with guard(rt.alias, "SET"):
            stored = await replication.awrite(
                rt, client, redis_key, "SET", lambda t: t.set(redis_key, value, px=ttl_ms, **flag)
            )
        if not stored:
            if must_create:
                raise CreateError
            if refresh:
                await index.aremove(rt, client, uid, [key])  # type: ignore[arg-type]
            raise UpdateError
        self._header = header
        if refresh and must_create:
            try:
                now = await index.atouch(rt, client, uid, key, ttl_ms, ip, ua, self._replacing)  # type: ignore[arg-type]
            except index.SessionRevoked:
                with guard(rt.alias, "DEL"):
                    await replication.awrite(rt, client, redis_key, "DEL", lambda t: t.delete(redis_key))
                self._header = None
                raise
            self._header = records.Header(uid=uid, indexed_at=now, score=now + ttl_ms)
        if old is not None and old.uid and old.uid != uid:
            await index.aremove(rt, client, old.uid, [key])

    async def adelete(self, session_key: str | None = None) -> None:
        """The async twin of :meth:`delete`, on ``redis.asyncio``."""
        if instrument.LISTENERS:
            async with instrument.operation("sessions", "delete", alias=self._rt.alias):
                await self._adelete(session_key)
            instrument.emit("sessions", "delete", self._rt.alias)
            return
        await self._adelete(session_key)

    async def _adelete(self, session_key: str | None = None) -> bool:
        if session_key is None:
            if self.session_key is None:
                return True
            session_key = self.session_key
        if not records.valid_key(session_key) or self._unavailable:
            return True
        rt = self._rt
        raw: bytes | None = b""
        redis_key = self._redis_key(session_key)
        try:
            client = await connections.aget_redis(rt.alias)
            with guard(rt.alias, "GETDEL"):
                raw = await replication.awrite(rt, client, redis_key, "GETDEL", lambda t: t.getdel(redis_key))
            header = records.header_of_prefix(raw)
            if header is not None and header.uid:
                await index.aremove(rt, client, header.uid, [session_key])
        except SessionUnavailable as exc:
            self._degrade(exc)
        if session_key == self.session_key:
            self._header = None
        return raw is not None

    async def acycle_key(self) -> None:
        data = await self._aget_session()  # type: ignore[attr-defined]
        if self._unavailable:
            return
        plan = self._quick_cycle_plan(data)
        if plan is None:
            await self._acycle_keeping_login(data)
            return
        old_key, ttl_ms = plan
        rt = self._rt
        try:
            client = await connections.aget_redis(rt.alias)
            for _ in range(CREATE_ATTEMPTS):
                pipe = client.pipeline(transaction=False)
                self._queue_quick_cycle(pipe, old_key, ttl_ms, data)
                with guard(rt.alias, "SET"):
                    created, old_uid = self._after_quick_cycle(await pipe.execute(), data)
                if old_uid:
                    await index.aremove(rt, client, old_uid, [old_key])
                if created:
                    return
        except SessionUnavailable as exc:
            self._degrade(exc)
            self._session_key = old_key  # the browser keeps its cookie
            return
        raise RuntimeError(f"Unable to create a new session key in {CREATE_ATTEMPTS} attempts.")

    @classmethod
    async def aclear_expired(cls) -> None:
        """Nothing to do (see :meth:`clear_expired`)."""
