"""``RedisCache``: Django's cache API on redis-py, sync and native asyncio, every topology.

    CACHES = {"default": {"BACKEND": "django_redis_patterns.cache.RedisCache",
                          "LOCATION": "redis://127.0.0.1:6379/0", "OPTIONS": {...}}}

Clients come from :mod:`django_redis_patterns.client.connections` (one pool per configuration,
shared with ``get_redis(alias)``; one asyncio client per event loop). Each sync method has
an ``a``-prefixed twin that awaits the same command on ``redis.asyncio``; the two share the
key making, encoding (:mod:`.codec`) and reply parsing (the ``_parse_*`` helpers), so
only the I/O line differs. Failures go through :mod:`.errors`.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache, default_key_func
from redis.crc import key_slot
from redis.exceptions import ResponseError

from ..client import connections, instrument, scripts
from ..exceptions import ImproperlyConfigured
from . import batching, errors, keyspace
from . import stampede as _stampede
from .batching import ready
from .codec import Codec
from .compat import DjangoRedisClient
from .errors import REDIS_ERRORS, guarded, raise_or_fallback
from .nearcache import NearCacheSettings
from .serializers import TamperedValue
from .structures import StructuresMixin

_incr_script = scripts.load("incr", package="django_redis_patterns.cache")
_get_pttl_script = scripts.load("get_pttl", package="django_redis_patterns.cache")
_set_many_script = scripts.load("set_many", package="django_redis_patterns.cache")
_compare_and_set_script = scripts.load("compare_and_set", package="django_redis_patterns.cache")

# Django warns about keys memcached would refuse; checking every character in Python costs
# more than the rest of make_key, so only keys this regex flags take Django's slow path.
_MISS: Any = object()
_tampered_aliases: set[str] = set()


def _tampered(alias: str, exc: TamperedValue) -> None:
    """A value SignedSerializer refused counts as a miss; logged once per alias and process."""
    if alias not in _tampered_aliases:
        _tampered_aliases.add(alias)
        errors.logger.warning("cache alias %r: %s; treated as a miss (further ones are not logged)", alias, exc)


_SUSPICIOUS_KEY = re.compile(r"[\x00-\x20\x7f]")
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")

CLEAR_MODES = ("scan", "flushdb")
DEFAULT_ITERSIZE = 1000


def _itersize(itersize: int | None) -> int:
    """``itersize``, else django-redis's ``DJANGO_REDIS_SCAN_ITERSIZE``, else 1000."""
    return itersize or getattr(settings, "DJANGO_REDIS_SCAN_ITERSIZE", None) or DEFAULT_ITERSIZE


#: OPTIONS this backend reads (on top of the connection OPTIONS of connections.parse).
BACKEND_OPTIONS = frozenset(
    {
        "SERIALIZER",
        "COMPRESSOR",
        "COMPRESS_MIN_LENGTH",
        "COMPRESS_LEVEL",
        "PICKLE_VERSION",
        "SIGNED_SERIALIZER",
        "SIGNING_SALT",
        "IGNORE_EXCEPTIONS",
        "LOG_IGNORED_EXCEPTIONS",
        "CLEAR",
        "STAMPEDE",
        "STAMPEDE_BETA",
        "STAMPEDE_LOCK_TIMEOUT",
        "REVERSE_KEY_FUNCTION",
        "CLOSE_CONNECTION",
        "ASYNC_BATCHING",
        "NEAR_CACHE",
    }
)
CONNECTION_OPTIONS = frozenset(
    {
        "PASSWORD",
        "USERNAME",
        "SOCKET_TIMEOUT",
        "SOCKET_CONNECT_TIMEOUT",
        "RETRIES",
        "READ_FROM_REPLICAS",
        "LEAN_CLIENT",
        "SPIN_WAIT_US",
        "SENTINEL_USERNAME",
        "SENTINEL_PASSWORD",
        "MAX_CONNECTIONS",
        "CONNECTION_POOL_KWARGS",
    }
)


def _set_command(key: str, raw: bytes | int, ms: int | None, nx: bool, xx: bool) -> tuple[Any, ...]:
    """SET's arguments, built here rather than by redis-py's ``set()``, whose argument
    checks cost more than the rest of a cache hit's Python work."""
    command: tuple[Any, ...] = ("SET", key, raw) if ms is None else ("SET", key, raw, "PX", ms)
    if nx:
        return (*command, "NX")
    if xx:
        return (*command, "XX")
    return command


def glob_escape(text: str) -> str:
    return _GLOB_SPECIAL.sub(r"\\\1", text)


def _default_reverse_key(key: str) -> str:
    parts = key.split(":", 2)
    if len(parts) < 3:
        raise ValueError(
            f"cannot tell the cache key of Redis key {key!r} (not '<prefix>:<version>:<key>'): with a custom "
            "KEY_FUNCTION, keys() and iter_keys() need REVERSE_KEY_FUNCTION (a dotted path or callable turning "
            "a Redis key back into the cache key, beside KEY_FUNCTION in CACHES)"
        )
    return parts[2]


def _missing(key: Any) -> ValueError:
    return ValueError(f"Key {key!r} not found.")


def _parse_incr(key: Any, reply: Any) -> int:
    if reply is None:
        raise _missing(key)
    if isinstance(reply, list):
        error = reply[0].decode() if isinstance(reply[0], bytes) else reply[0]
        raise TypeError(f"cache value of {key!r} is not an integer, cannot incr/decr it ({error})")
    return int(reply)


#: Compare-and-set attempts of an incr past 64 bits before giving up (each lost one means
#: another writer changed the key in between).
_CAS_ATTEMPTS = 32


def _contended(key: Any) -> RuntimeError:
    return RuntimeError(f"incr/decr of {key!r}: the value kept changing during {_CAS_ATTEMPTS} attempts")


def _parse_ttl(reply: int) -> int | None:
    """django-redis's convention: missing key -> 0, no expiry -> None."""
    if reply == -2:
        return 0
    if reply == -1:
        return None
    return int(reply)


class RedisCache(StructuresMixin, BaseCache):
    """Django cache backend for Redis standalone (+replicas), Sentinel and Cluster."""

    #: How the connection layer reads this backend's OPTIONS (django-redis's upper-case names).
    redis_options_dialect = "upper"

    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(params)
        try:
            self._configure(server, params)
            near = NearCacheSettings.from_options(self._options)
            if near is not None:
                from . import nearbackend

                nearbackend.configure(self, near)
                self.__class__ = nearbackend.near_class(type(self))
        except ImproperlyConfigured as exc:
            # Django's own system checks build every cache before ours run, so raising here
            # would turn redis_patterns.E003/E050 into a traceback. Fail on first use instead.
            self._configure_error = exc
            self.__class__ = MisconfiguredRedisCache

    def _configure(self, server: Any, params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS") or {})
        self._location = server
        self._options = options
        self._spec = connections.parse(server, options)
        self._codec = Codec(options)
        self._cluster = self._spec.topology == "cluster"
        # Reads go to a replica for a LOCATION list (Django's and django-redis's meaning),
        # and for Sentinel when READ_FROM_REPLICAS is set; a Cluster client routes replica
        # reads itself (READ_FROM_REPLICAS in the connection spec).
        self._read_replica = (self._spec.topology == "standalone" and len(self._spec.nodes) > 1) or (
            self._spec.topology == "sentinel" and self._spec.read_from_replicas
        )
        ignore = options.get("IGNORE_EXCEPTIONS", getattr(settings, "DJANGO_REDIS_IGNORE_EXCEPTIONS", False))
        self._ignore = bool(ignore)
        # django-redis's opt-in: every ignored error logged as ERROR "Exception ignored" on
        # DJANGO_REDIS_LOGGER, instead of the one WARNING per incident.
        log_ignored = options.get(
            "LOG_IGNORED_EXCEPTIONS", getattr(settings, "DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS", False)
        )
        self._ignored_logger = (
            logging.getLogger(getattr(settings, "DJANGO_REDIS_LOGGER", None) or "django_redis.cache")
            if log_ignored
            else None
        )
        self._clear_mode = options.get("CLEAR", "scan")
        if self._clear_mode not in CLEAR_MODES:
            raise ImproperlyConfigured(f"OPTIONS['CLEAR'] must be one of {CLEAR_MODES}, got {self._clear_mode!r}")
        self._stampede = _stampede.Settings.from_options(options)
        # django-redis reads REVERSE_KEY_FUNCTION beside KEY_FUNCTION; OPTIONS also works.
        reverse = params.get("REVERSE_KEY_FUNCTION", options.get("REVERSE_KEY_FUNCTION"))
        if reverse is None:
            self.reverse_key = _default_reverse_key
        else:
            from django.utils.module_loading import import_string

            self.reverse_key = import_string(reverse) if isinstance(reverse, str) else reverse
        self._batcher = (
            batching.batcher_for(self._spec, self._read_replica) if options.get("ASYNC_BATCHING", True) else None
        )
        self._close_connection = bool(
            options.get("CLOSE_CONNECTION", getattr(settings, "DJANGO_REDIS_CLOSE_CONNECTION", False))
        )
        self._client_compat: DjangoRedisClient | None = None
        # A subclass that overrides validate_key() gets it called for every key.
        self._fast_validate = type(self).validate_key is BaseCache.validate_key
        self._alias: str | None = None
        #: method name -> the operation its commands are attributed to (see errors.guarded)
        self._operation_tags: dict[str, instrument.Operation] = {}

    def __repr__(self) -> str:
        return f"<RedisCache {self._spec!r} prefix={self.key_prefix!r}>"

    # -- plumbing ----------------------------------------------------------------------
    @property
    def client(self) -> DjangoRedisClient:
        """django-redis's ``cache.client`` (``get_client()``, ``make_key()``, ...; see :mod:`.compat`)."""
        if self._client_compat is None:
            self._client_compat = DjangoRedisClient(self)
        return self._client_compat

    @property
    def _ignore_exceptions(self) -> bool:  # django-redis's attribute name
        return self._ignore

    @property
    def _log_ignored_exceptions(self) -> bool:  # django-redis's attribute name
        return self._ignored_logger is not None

    @property
    def alias(self) -> str:
        """The CACHES alias this backend was built for (Django does not tell backends)."""
        if self._alias is None:
            self._alias = self._find_alias()
        return self._alias

    def _find_alias(self) -> str:
        for name, config in (getattr(settings, "CACHES", None) or {}).items():
            if (
                config.get("LOCATION") == self._location
                and dict(config.get("OPTIONS") or {}) == self._options
                and config.get("KEY_PREFIX", "") == self.key_prefix
                and config.get("VERSION", 1) == self.version
            ):
                return str(name)
        return f"<{', '.join(self._spec.display_nodes())}>"

    def _failed(self, exc: BaseException, command: str, fallback: Any) -> Any:
        return raise_or_fallback(
            self.alias, self._spec, self._ignore, exc, command, fallback, ignored_logger=self._ignored_logger
        )

    def get_client(self, key: Any = None, *, write: bool = True) -> Any:
        """The shared sync redis-py client (django-redis's ``cache.client.get_client``)."""
        return connections.client_for_spec(self._spec, replica=not write and self._read_replica)

    def get_async_client(self, *, write: bool = True) -> Any:
        """The ``redis.asyncio`` client of the running event loop."""
        return connections.async_client_for_spec(self._spec, replica=not write and self._read_replica)

    def _client(self) -> Any:
        return connections.client_for_spec(self._spec)

    def _reader(self) -> Any:
        return connections.client_for_spec(self._spec, replica=self._read_replica)

    async def _aclient(self) -> Any:
        client = connections.async_client_for_spec(self._spec)
        return await ready(client) if self._cluster else client

    async def _areader(self) -> Any:
        client = connections.async_client_for_spec(self._spec, replica=self._read_replica)
        return await ready(client) if self._cluster else client

    def make_and_validate_key(self, key: Any, version: int | None = None) -> str:
        # Django's make_key + validate_key, without two Python calls and a per-character
        # loop per key: the default key function inlined, and Django's validation (which
        # emits its CacheKeyWarning) only for keys a regex flags.
        if self.key_func is default_key_func:
            made = f"{self.key_prefix}:{self.version if version is None else version}:{key}"
        else:
            made = self.make_key(key, version=version)
        if not self._fast_validate or len(made) > 250 or _SUSPICIOUS_KEY.search(made):
            self.validate_key(made)
        return made

    def get_backend_timeout(self, timeout: Any = DEFAULT_TIMEOUT) -> int | None:
        """Whole seconds, like Django's backend (``None``: never expires; 0: expire now)."""
        ms = self._ttl_ms(timeout)
        return None if ms is None else ms // 1000

    def _ttl_ms(self, timeout: Any) -> int | None:
        """Milliseconds to live (``None``: never expires; 0: already expired)."""
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        if timeout is None:
            return None
        ms = int(timeout * 1000)
        return ms if ms > 0 else 0

    def make_pattern(self, pattern: str, version: int | None = None, prefix: str | None = None) -> str:
        """A SCAN MATCH pattern for ``pattern`` under this cache's key prefix and version."""
        prefix = glob_escape(self.key_prefix if prefix is None else prefix)
        return str(self.key_func(pattern, prefix, glob_escape(str(version or self.version))))

    def _all_keys_pattern(self) -> str:
        if self.key_func is default_key_func:
            # The integer version segment marks a key as this cache's (see .keyspace):
            # SCAN narrows on its first character, _owns() checks the whole segment.
            return keyspace.scan_match(glob_escape(self.key_prefix))
        return str(self.key_func("*", glob_escape(self.key_prefix), "*"))

    def _owns(self) -> re.Pattern[bytes] | None:
        """What a key of this cache looks like (None: a custom KEY_FUNCTION, whose glob decides)."""
        if self.key_func is not default_key_func:
            return None
        return keyspace.owner_regex(self.key_prefix)

    def _made_keys(self, keys: Iterable[Any], version: int | None) -> dict[str, Any]:
        """made key -> caller's key; the bulk twin of make_and_validate_key (one regex pass)."""
        if self.key_func is not default_key_func or not self._fast_validate:
            return {self.make_and_validate_key(key, version=version): key for key in keys}
        head = f"{self.key_prefix}:{self.version if version is None else version}:"
        key_map = {f"{head}{key}": key for key in keys}
        if key_map and (_SUSPICIOUS_KEY.search("\x80".join(key_map)) or max(map(len, key_map)) > 250):
            for made in key_map:
                self.validate_key(made)
        return key_map

    def _decode_many(self, key_map: Mapping[str, Any], values: list[Any]) -> dict[Any, Any]:
        try:
            decoded = self._codec.decode_many(values)
        except TamperedValue:  # SignedSerializer: leave out the values that fail their check
            return {
                k: v for k, raw in zip(key_map.values(), values, strict=True) if (v := self._decode(raw)) is not _MISS
            }
        return {k: v for k, v, raw in zip(key_map.values(), decoded, values, strict=True) if raw is not None}

    def _decode(self, raw: Any, default: Any = _MISS) -> Any:
        """``raw`` decoded; ``default`` for a missing value or one SignedSerializer refuses (logged once)."""
        if raw is None:
            return default
        try:
            return self._codec.decode(raw)
        except TamperedValue as exc:
            _tampered(self.alias, exc)
            return default

    # -- get / set -----------------------------------------------------------------------
    @guarded("GET", lambda key, default=None, version=None: default)
    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        raw = self._reader().get(self.make_and_validate_key(key, version=version))
        if instrument.LISTENERS:
            instrument.deliver(self._one_lookup[raw is not None])
        try:
            return default if raw is None else self._codec.decode(raw)
        except TamperedValue as exc:  # SignedSerializer refused it: a miss
            _tampered(self.alias, exc)
            return default

    def _operation_tag(self, name: str) -> instrument.Operation:
        tag = self._operation_tags[name] = instrument.attributed("cache", name, self.alias)
        return tag

    @functools.cached_property
    def _one_lookup(self) -> tuple[instrument.PatternEvent, instrument.PatternEvent]:
        """The events of one key's miss and hit (shared: the hottest events there are)."""
        return (
            instrument.PatternEvent("cache", "miss", self.alias, {"prefix": self.key_prefix, "count": 1}),
            instrument.PatternEvent("cache", "hit", self.alias, {"prefix": self.key_prefix, "count": 1}),
        )

    def _looked_up(self, hits: int, keys: int) -> None:
        """Report the hits and misses of a read (``prefix``: the alias's KEY_PREFIX, a bounded label)."""
        if hits:
            instrument.emit("cache", "hit", self.alias, prefix=self.key_prefix, count=hits)
        if keys - hits:
            instrument.emit("cache", "miss", self.alias, prefix=self.key_prefix, count=keys - hits)

    async def aget(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        """The async twin of :meth:`get`, on ``redis.asyncio``.

        Concurrent calls in one loop iteration share one ``MGET``.
        """
        # Guarded inline rather than by @guarded: this is the call async views make by
        # the hundred, and the wrapper's extra coroutine is measurable there.
        try:
            key = self.make_and_validate_key(key, version=version)
            if self._batcher is not None:
                raw = await self._batcher.get(key)
            else:
                raw = await (await self._areader()).get(key)
        except REDIS_ERRORS as exc:
            return self._failed(exc, "GET", default)
        if errors._failing:
            errors.record_success(self.alias, self._spec)
        if instrument.LISTENERS:
            instrument.deliver(self._one_lookup[raw is not None])
        try:
            return default if raw is None else self._codec.decode(raw)
        except TamperedValue as exc:  # SignedSerializer refused it: a miss
            _tampered(self.alias, exc)
            return default

    @guarded("SET")
    def set(  # type: ignore[override]
        self,
        key: Any,
        value: Any,
        timeout: Any = DEFAULT_TIMEOUT,
        version: int | None = None,
        *,
        nx: bool = False,
        xx: bool = False,
    ) -> bool | None:
        """Django's ``set`` plus django-redis's ``nx``/``xx`` (then returns whether it wrote)."""
        if nx and xx:
            raise ValueError("set(): nx and xx are mutually exclusive")
        key = self.make_and_validate_key(key, version=version)
        ms = self._ttl_ms(timeout)
        client = self._client()
        if ms == 0:  # expired on arrival: Django deletes instead of writing
            if nx:
                return not client.exists(key)
            deleted = bool(client.delete(key))
            return deleted if xx else None
        written = client.execute_command(*_set_command(key, self._codec.encode(value), ms, nx, xx))
        return bool(written) if nx or xx else None

    @guarded("SET")
    async def aset(  # type: ignore[override]
        self,
        key: Any,
        value: Any,
        timeout: Any = DEFAULT_TIMEOUT,
        version: int | None = None,
        *,
        nx: bool = False,
        xx: bool = False,
    ) -> bool | None:
        """The async twin of :meth:`set`, on ``redis.asyncio``."""
        if nx and xx:
            raise ValueError("aset(): nx and xx are mutually exclusive")
        key = self.make_and_validate_key(key, version=version)
        ms = self._ttl_ms(timeout)
        client = await self._aclient()
        if ms == 0:
            if nx:
                return not await client.exists(key)
            deleted = bool(await client.delete(key))
            return deleted if xx else None
        written = await client.execute_command(*_set_command(key, self._codec.encode(value), ms, nx, xx))
        return bool(written) if nx or xx else None

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        """``SET NX``; on an ignored Redis error, ``set``'s fallback (False)."""
        return bool(self.set(key, value, timeout, version, nx=True))

    async def aadd(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        """The async twin of :meth:`add`, on ``redis.asyncio``."""
        return bool(await self.aset(key, value, timeout, version, nx=True))

    @guarded("PEXPIRE")
    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        ms = self._ttl_ms(timeout)
        client = self._client()
        if ms is None:  # PERSIST says 0 for a key that never expired: EXISTS tells, same round trip
            return any(client.pipeline(transaction=False).persist(key).exists(key).execute())
        return bool(client.pexpire(key, ms))

    @guarded("PEXPIRE")
    async def atouch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        """The async twin of :meth:`touch`, on ``redis.asyncio``."""
        key = self.make_and_validate_key(key, version=version)
        ms = self._ttl_ms(timeout)
        client = await self._aclient()
        if ms is None:
            return any(await client.pipeline(transaction=False).persist(key).exists(key).execute())
        return bool(await client.pexpire(key, ms))

    @guarded("DEL")
    def delete(self, key: Any, version: int | None = None) -> bool:
        return bool(self._client().delete(self.make_and_validate_key(key, version=version)))

    @guarded("DEL")
    async def adelete(self, key: Any, version: int | None = None) -> bool:
        """The async twin of :meth:`delete`, on ``redis.asyncio``."""
        return bool(await (await self._aclient()).delete(self.make_and_validate_key(key, version=version)))

    @guarded("EXISTS")
    def has_key(self, key: Any, version: int | None = None) -> bool:
        return bool(self._reader().exists(self.make_and_validate_key(key, version=version)))

    @guarded("EXISTS")
    async def ahas_key(self, key: Any, version: int | None = None) -> bool:
        """The async twin of :meth:`has_key`, on ``redis.asyncio``."""
        return bool(await (await self._areader()).exists(self.make_and_validate_key(key, version=version)))

    # -- bulk --------------------------------------------------------------------------
    @guarded("MGET", lambda keys, version=None: {})
    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        key_map = self._made_keys(keys, version)
        if not key_map:
            return {}
        client = self._reader()
        made = list(key_map)
        values = client.mget_nonatomic(made) if self._cluster else client.mget(made)
        if instrument.LISTENERS:
            self._looked_up(sum(v is not None for v in values), len(values))
        return self._decode_many(key_map, values)

    @guarded("MGET", lambda keys, version=None: {})
    async def aget_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        key_map = self._made_keys(keys, version)
        if not key_map:
            return {}
        client = await self._areader()
        made = list(key_map)
        values = await (client.mget_nonatomic(made) if self._cluster else client.mget(made))
        if instrument.LISTENERS:
            self._looked_up(sum(v is not None for v in values), len(values))
        return self._decode_many(key_map, values)

    def _set_many_plan(
        self, data: Mapping[Any, Any], timeout: Any, version: int | None
    ) -> tuple[dict[str, bytes | int], int | None]:
        encode = self._codec.encode
        key_map = self._made_keys(data, version)
        pairs = {made: encode(data[key]) for made, key in key_map.items()}
        return pairs, self._ttl_ms(timeout)

    @staticmethod
    def _queue_set_many_per_slot(pipe: Any, pairs: Mapping[str, bytes | int], ms: int) -> None:
        """Cluster: one set_many script call per slot, all in one pipeline (one batch per node)."""
        by_slot: dict[int, list[str]] = {}
        for k in pairs:
            by_slot.setdefault(key_slot(k.encode()), []).append(k)
        for keys in by_slot.values():
            _set_many_script.queue(pipe, keys, [ms, *(pairs[k] for k in keys)])

    @guarded("SET (many)", lambda data, timeout=None, version=None: list(data))
    def set_many(
        self, data: Mapping[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list[Any]:
        """One round trip: MSET, or one Lua call of ``SET .. PX`` per key (per slot and node on Cluster)."""
        if not data:
            return []
        pairs, ms = self._set_many_plan(data, timeout, version)
        client = self._client()
        if ms == 0:
            client.delete(*pairs)
        elif self._cluster:
            if ms is None:
                client.mset_nonatomic(pairs)
            else:
                pipe = client.pipeline(transaction=False)
                self._queue_set_many_per_slot(pipe, pairs, ms)
                pipe.execute()
        elif ms is None:
            client.mset(pairs)
        else:
            _set_many_script(client, list(pairs), [ms, *pairs.values()])
        return []

    @guarded("SET (many)", lambda data, timeout=None, version=None: list(data))
    async def aset_many(
        self, data: Mapping[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list[Any]:
        """The async twin of :meth:`set_many`, on ``redis.asyncio``."""
        if not data:
            return []
        pairs, ms = self._set_many_plan(data, timeout, version)
        client = await self._aclient()
        if ms == 0:
            await client.delete(*pairs)
        elif self._cluster:
            if ms is None:
                await client.mset_nonatomic(pairs)
            else:
                pipe = client.pipeline(transaction=False)
                self._queue_set_many_per_slot(pipe, pairs, ms)
                await pipe.execute()
        elif ms is None:
            await client.mset(pairs)
        else:
            await _set_many_script.acall(client, list(pairs), [ms, *pairs.values()])
        return []

    @guarded("DEL (many)", lambda keys, version=None: None)
    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> int | None:  # type: ignore[override]
        """Delete the keys; how many existed (django-redis's return value).

        ``None`` for no keys at all and under ``IGNORE_EXCEPTIONS`` (Django's contract, which
        its own test suite checks for the empty case)."""
        made = list(self._made_keys(keys, version))
        if not made:
            return None
        return int(self._client().delete(*made))  # Cluster: split per slot, one pipeline

    @guarded("DEL (many)", lambda keys, version=None: None)
    async def adelete_many(self, keys: Iterable[Any], version: int | None = None) -> int | None:  # type: ignore[override]
        """The async twin of :meth:`delete_many`, on ``redis.asyncio``."""
        made = list(self._made_keys(keys, version))
        if not made:
            return None
        return int(await (await self._aclient()).delete(*made))

    # -- counters ------------------------------------------------------------------------
    @guarded("INCRBY")
    def incr(self, key: Any, delta: int = 1, version: int | None = None, *, ignore_key_check: bool = False) -> int:
        """Atomic; ``ValueError`` on a missing key (unless ``ignore_key_check``).

        One round trip while the value fits Redis's 64-bit integers; past them (django-redis
        falls back to Python integers too) the value is read, added to in Python and written
        back with a compare-and-set that keeps the TTL, retried if another writer got there first.
        """
        made = self.make_and_validate_key(key, version=version)
        client = self._client()
        if ignore_key_check:
            try:
                return int(client.incrby(made, int(delta)))
            except ResponseError:
                pass  # not a 64-bit integer: the Python path below decides
        else:
            reply = _incr_script(client, [made], [int(delta)])
            if not isinstance(reply, list):
                return _parse_incr(key, reply)
        for _ in range(_CAS_ATTEMPTS):
            raw = client.get(made)
            new, encoded = self._python_incr(key, raw, delta)
            if _compare_and_set_script(client, [made], [raw, encoded]):
                return new
        raise _contended(key)

    @guarded("INCRBY")
    async def aincr(
        self, key: Any, delta: int = 1, version: int | None = None, *, ignore_key_check: bool = False
    ) -> int:
        made = self.make_and_validate_key(key, version=version)
        client = await self._aclient()
        if ignore_key_check:
            try:
                return int(await client.incrby(made, int(delta)))
            except ResponseError:
                pass
        else:
            reply = await _incr_script.acall(client, [made], [int(delta)])
            if not isinstance(reply, list):
                return _parse_incr(key, reply)
        for _ in range(_CAS_ATTEMPTS):
            raw = await client.get(made)
            new, encoded = self._python_incr(key, raw, delta)
            if await _compare_and_set_script.acall(client, [made], [raw, encoded]):
                return new
        raise _contended(key)

    def _python_incr(self, key: Any, raw: bytes | None, delta: int) -> tuple[Any, bytes | int]:
        if raw is None:
            raise _missing(key)
        value = self._codec.decode(raw)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"cache value of {key!r} is not an integer, cannot incr/decr it ({type(value).__name__})")
        new = value + delta
        return new, self._codec.encode(new)

    def decr(self, key: Any, delta: int = 1, version: int | None = None, *, ignore_key_check: bool = False) -> int:
        return self.incr(key, -delta, version, ignore_key_check=ignore_key_check)

    async def adecr(
        self, key: Any, delta: int = 1, version: int | None = None, *, ignore_key_check: bool = False
    ) -> int:
        """The async twin of :meth:`decr`, on ``redis.asyncio``."""
        return await self.aincr(key, -delta, version, ignore_key_check=ignore_key_check)

    def _version_keys(self, key: Any, delta: int, version: int | None) -> tuple[int, str, str]:
        if version is None:
            version = self.version
        new_version = version + delta
        old = self.make_and_validate_key(key, version=version)
        new = self.make_and_validate_key(key, version=new_version)
        return new_version, old, new

    def _same_slot(self, a: str, b: str) -> bool:
        return not self._cluster or key_slot(a.encode()) == key_slot(b.encode())

    @guarded("RENAME")
    def incr_version(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        """Move the value to the next version, keeping its TTL (Django's default resets it)."""
        new_version, old, new = self._version_keys(key, delta, version)
        client = self._client()
        if self._same_slot(old, new):
            try:
                client.rename(old, new)
            except ResponseError as exc:
                if "no such key" in str(exc).lower():
                    raise _missing(key)
                raise
            return new_version
        raw, pttl = _get_pttl_script(client, [old])
        if raw is None:
            raise _missing(key)
        pipe = client.pipeline(transaction=False)
        pipe.set(new, raw, px=pttl if pttl > 0 else None)
        pipe.delete(old)
        pipe.execute()
        return new_version

    @guarded("RENAME")
    async def aincr_version(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        new_version, old, new = self._version_keys(key, delta, version)
        client = await self._aclient()
        if self._same_slot(old, new):
            try:
                await client.rename(old, new)
            except ResponseError as exc:
                if "no such key" in str(exc).lower():
                    raise _missing(key)
                raise
            return new_version
        raw, pttl = await _get_pttl_script.acall(client, [old])
        if raw is None:
            raise _missing(key)
        pipe = client.pipeline(transaction=False)
        pipe.set(new, raw, px=pttl if pttl > 0 else None)
        pipe.delete(old)
        await pipe.execute()
        return new_version

    def decr_version(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return self.incr_version(key, -delta, version)

    async def adecr_version(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        """The async twin of :meth:`decr_version`, on ``redis.asyncio``."""
        return await self.aincr_version(key, -delta, version)

    # -- get_or_set with stampede protection ---------------------------------------------
    def get_or_set(
        self,
        key: Any,
        default: Any,
        timeout: Any = DEFAULT_TIMEOUT,
        version: int | None = None,
        *,
        stampede: str | object | None = _stampede.FROM_OPTIONS,
    ) -> Any:
        """Django's ``get_or_set``; a callable ``default`` is recomputed stampede-safely.

        ``stampede="xfetch"`` (default for callables, ``OPTIONS["STAMPEDE"]``) recomputes
        a key early with a probability that rises as its expiry nears and with how long
        it took to compute; ``"lock"`` lets one caller recompute while the others keep the
        current value (or, on a miss, wait up to ``STAMPEDE_LOCK_TIMEOUT``); ``None``:
        Django's plain behaviour.
        """
        try:
            return _stampede.get_or_set(self, key, default, timeout, version, stampede)
        except TamperedValue as exc:  # SignedSerializer refused the stored value: drop it, then as a miss
            _tampered(self.alias, exc)
            self.delete(key, version=version)
            return _stampede.get_or_set(self, key, default, timeout, version, stampede)

    async def aget_or_set(
        self,
        key: Any,
        default: Any,
        timeout: Any = DEFAULT_TIMEOUT,
        version: int | None = None,
        *,
        stampede: str | object | None = _stampede.FROM_OPTIONS,
    ) -> Any:
        try:
            return await _stampede.aget_or_set(self, key, default, timeout, version, stampede)
        except TamperedValue as exc:
            _tampered(self.alias, exc)
            await self.adelete(key, version=version)
            return await _stampede.aget_or_set(self, key, default, timeout, version, stampede)

    # -- whole-cache operations -----------------------------------------------------------
    @guarded("CLEAR")
    def clear(self) -> bool:  # type: ignore[override]
        """Delete this cache's keys (SCAN + UNLINK on every primary); ``CLEAR="flushdb"`` flushes."""
        client = self._client()
        if self._clear_mode == "flushdb":
            client.flushdb()
        else:
            self._delete_matching(client, self._all_keys_pattern(), DEFAULT_ITERSIZE, self._owns())
        return True

    @guarded("CLEAR")
    async def aclear(self) -> bool:  # type: ignore[override]
        """The async twin of :meth:`clear`, on ``redis.asyncio``."""
        client = await self._aclient()
        if self._clear_mode == "flushdb":
            await client.flushdb()
        else:
            await self._adelete_matching(client, self._all_keys_pattern(), DEFAULT_ITERSIZE, self._owns())
        return True

    @guarded("SCAN+UNLINK", lambda *a, **kw: 0)
    def delete_pattern(
        self, pattern: str, version: int | None = None, prefix: str | None = None, itersize: int | None = None
    ) -> int:
        """Delete keys matching a glob (django-redis's API), SCANning every primary in batches."""
        match = self.make_pattern(pattern, version=version, prefix=prefix)
        return self._delete_matching(self._client(), match, _itersize(itersize))

    @guarded("SCAN+UNLINK", lambda *a, **kw: 0)
    async def adelete_pattern(
        self, pattern: str, version: int | None = None, prefix: str | None = None, itersize: int | None = None
    ) -> int:
        """The async twin of :meth:`delete_pattern`, on ``redis.asyncio``."""
        match = self.make_pattern(pattern, version=version, prefix=prefix)
        return await self._adelete_matching(await self._aclient(), match, _itersize(itersize))

    @staticmethod
    def _delete_matching(client: Any, match: str, batch: int, owns: re.Pattern[bytes] | None = None) -> int:
        # scan_iter visits every primary on Cluster; UNLINK splits a batch per slot there.
        deleted = 0
        keys: list[bytes] = []
        for key in client.scan_iter(match=match, count=batch):
            if owns is not None and not owns.match(key):
                continue
            keys.append(key)
            if len(keys) >= batch:
                deleted += client.unlink(*keys)
                keys = []
        if keys:
            deleted += client.unlink(*keys)
        return deleted

    @staticmethod
    async def _adelete_matching(client: Any, match: str, batch: int, owns: re.Pattern[bytes] | None = None) -> int:
        deleted = 0
        keys: list[bytes] = []
        async for key in client.scan_iter(match=match, count=batch):
            if owns is not None and not owns.match(key):
                continue
            keys.append(key)
            if len(keys) >= batch:
                deleted += await client.unlink(*keys)
                keys = []
        if keys:
            deleted += await client.unlink(*keys)
        return deleted

    def iter_keys(self, search: str, itersize: int | None = None, version: int | None = None) -> Iterator[str]:
        """Yield this cache's keys matching a glob (SCAN on every primary; never KEYS)."""
        match = self.make_pattern(search, version=version)
        try:
            for key in self._client().scan_iter(match=match, count=_itersize(itersize)):
                yield self.reverse_key(key.decode())
        except REDIS_ERRORS as exc:
            self._failed(exc, "SCAN", None)

    async def aiter_keys(
        self, search: str, itersize: int | None = None, version: int | None = None
    ) -> AsyncIterator[str]:
        """Async iterator over this cache's keys matching ``pattern`` (``SCAN`` on every primary)."""
        match = self.make_pattern(search, version=version)
        try:
            async for key in (await self._aclient()).scan_iter(match=match, count=_itersize(itersize)):
                yield self.reverse_key(key.decode())
        except REDIS_ERRORS as exc:
            self._failed(exc, "SCAN", None)

    def keys(self, search: str, version: int | None = None) -> list[str]:
        """django-redis's ``keys()``, built on SCAN (``KEYS`` blocks the server)."""
        return list(self.iter_keys(search, version=version))

    # -- expiry (django-redis extras) -----------------------------------------------------
    @guarded("TTL", lambda *a, **kw: None)
    def ttl(self, key: Any, version: int | None = None) -> int | None:
        """Seconds left; ``None`` when the key never expires; 0 when it does not exist."""
        return _parse_ttl(self._client().ttl(self.make_and_validate_key(key, version=version)))

    @guarded("TTL", lambda *a, **kw: None)
    async def attl(self, key: Any, version: int | None = None) -> int | None:
        """The async twin of :meth:`ttl`, on ``redis.asyncio``."""
        return _parse_ttl(await (await self._aclient()).ttl(self.make_and_validate_key(key, version=version)))

    @guarded("PTTL", lambda *a, **kw: None)
    def pttl(self, key: Any, version: int | None = None) -> int | None:
        """Milliseconds left; ``None`` when the key never expires; 0 when it does not exist."""
        return _parse_ttl(self._client().pttl(self.make_and_validate_key(key, version=version)))

    @guarded("PTTL", lambda *a, **kw: None)
    async def apttl(self, key: Any, version: int | None = None) -> int | None:
        """The async twin of :meth:`pttl`, on ``redis.asyncio``."""
        return _parse_ttl(await (await self._aclient()).pttl(self.make_and_validate_key(key, version=version)))

    def _expiry_seconds(self, timeout: Any) -> Any:
        """django-redis's ``expire(key, DEFAULT_TIMEOUT)``: the cache's default timeout."""
        return self.default_timeout if timeout is DEFAULT_TIMEOUT else timeout

    @guarded("EXPIRE")
    def expire(self, key: Any, timeout: Any, version: int | None = None) -> bool:
        """Expire in ``timeout`` seconds (``DEFAULT_TIMEOUT``: the cache's; ``None``: never, like ``persist``)."""
        made = self.make_and_validate_key(key, version=version)
        timeout = self._expiry_seconds(timeout)
        if timeout is None:
            return bool(self._client().pipeline(transaction=False).persist(made).exists(made).execute()[1])
        return bool(self._client().expire(made, timeout))

    @guarded("EXPIRE")
    async def aexpire(self, key: Any, timeout: Any, version: int | None = None) -> bool:
        """The async twin of :meth:`expire`, on ``redis.asyncio``."""
        made = self.make_and_validate_key(key, version=version)
        timeout = self._expiry_seconds(timeout)
        client = await self._aclient()
        if timeout is None:
            return bool((await client.pipeline(transaction=False).persist(made).exists(made).execute())[1])
        return bool(await client.expire(made, timeout))

    @guarded("PEXPIRE")
    def pexpire(self, key: Any, timeout: Any, version: int | None = None) -> bool:
        """Expire in ``timeout`` milliseconds (``DEFAULT_TIMEOUT``: the cache's default timeout)."""
        made = self.make_and_validate_key(key, version=version)
        if timeout is DEFAULT_TIMEOUT:
            return self.expire(key, timeout, version)
        return bool(self._client().pexpire(made, timeout))

    @guarded("PEXPIRE")
    async def apexpire(self, key: Any, timeout: Any, version: int | None = None) -> bool:
        """The async twin of :meth:`pexpire`, on ``redis.asyncio``."""
        made = self.make_and_validate_key(key, version=version)
        if timeout is DEFAULT_TIMEOUT:
            return await self.aexpire(key, timeout, version)
        return bool(await (await self._aclient()).pexpire(made, timeout))

    @guarded("EXPIREAT")
    def expire_at(self, key: Any, when: datetime | int, version: int | None = None) -> bool:
        """Expire the key at ``when`` (a datetime or Unix time); whether the key exists."""
        return bool(self._client().expireat(self.make_and_validate_key(key, version=version), when))

    @guarded("EXPIREAT")
    async def aexpire_at(self, key: Any, when: datetime | int, version: int | None = None) -> bool:
        """The async twin of :meth:`expire_at`, on ``redis.asyncio``."""
        return bool(await (await self._aclient()).expireat(self.make_and_validate_key(key, version=version), when))

    @guarded("PEXPIREAT")
    def pexpire_at(self, key: Any, when: datetime | int, version: int | None = None) -> bool:
        """Expire the key at ``when``, to the millisecond; whether the key exists."""
        return bool(self._client().pexpireat(self.make_and_validate_key(key, version=version), when))

    @guarded("PEXPIREAT")
    async def apexpire_at(self, key: Any, when: datetime | int, version: int | None = None) -> bool:
        """The async twin of :meth:`pexpire_at`, on ``redis.asyncio``."""
        return bool(await (await self._aclient()).pexpireat(self.make_and_validate_key(key, version=version), when))

    @guarded("PERSIST")
    def persist(self, key: Any, version: int | None = None) -> bool:
        """Remove the key's TTL; whether it had one."""
        return bool(self._client().persist(self.make_and_validate_key(key, version=version)))

    @guarded("PERSIST")
    async def apersist(self, key: Any, version: int | None = None) -> bool:
        """The async twin of :meth:`persist`, on ``redis.asyncio``."""
        return bool(await (await self._aclient()).persist(self.make_and_validate_key(key, version=version)))

    # -- locks -----------------------------------------------------------------------------
    def lock(
        self,
        key: Any,
        version: int | None = None,
        timeout: float | None = None,
        sleep: float = 0.1,
        blocking: bool = True,
        blocking_timeout: float | None = None,
        thread_local: bool = True,
    ) -> Any:
        """django-redis's ``lock()``: redis-py's ``Lock`` on the cache key itself.

        The Redis key is the cache key (``has_key(key)`` is True while it is held), and the
        lock protocol is redis-py's, so processes still on django-redis and processes on this
        backend exclude each other during a migration. ``timeout`` is the TTL in seconds
        (``None``: none, as in django-redis), ``blocking_timeout`` how long ``acquire()`` waits,
        ``thread_local=False`` lets another thread release it. For fencing tokens, renewal
        and waiters woken on release, use :func:`django_redis_patterns.locks.lock`.
        """
        made = self.make_and_validate_key(key, version=version)
        return self._client().lock(
            made,
            timeout=timeout,
            sleep=sleep,
            blocking=blocking,
            blocking_timeout=blocking_timeout,
            thread_local=thread_local,
        )

    async def alock(
        self,
        key: Any,
        version: int | None = None,
        timeout: float | None = None,
        sleep: float = 0.1,
        blocking: bool = True,
        blocking_timeout: float | None = None,
        thread_local: bool = True,
    ) -> Any:
        """``redis.asyncio``'s ``Lock`` on the cache key (``async with await cache.alock("k"):``)."""
        made = self.make_and_validate_key(key, version=version)
        return (await self._aclient()).lock(
            made,
            timeout=timeout,
            sleep=sleep,
            blocking=blocking,
            blocking_timeout=blocking_timeout,
            thread_local=thread_local,
        )

    def close(self, **kwargs: Any) -> None:
        """Django calls this at the end of each request.

        Pools are shared by every thread and request (connections.py), so nothing is closed,
        unless ``OPTIONS["CLOSE_CONNECTION"]`` (or ``DJANGO_REDIS_CLOSE_CONNECTION``) is set:
        then the idle connections are closed, as django-redis does; connections other
        threads are using stay open.
        """
        self.client.close()  # django-redis's order: projects patch cache.client.close

    def _close_connections(self) -> None:
        if self._close_connection:
            connections.close_idle_connections(self._client())

    async def aclose(self, **kwargs: Any) -> None:
        """See :meth:`close` (the sync pools are the ones closed)."""
        self.close()


class MisconfiguredRedisCache(RedisCache):
    """What a RedisCache with invalid LOCATION/OPTIONS becomes: every use raises the error."""

    _configure_error: ImproperlyConfigured

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("_") or name in ("close", "key_prefix", "version", "default_timeout"):
            return object.__getattribute__(self, name)
        raise object.__getattribute__(self, "_configure_error")

    def close(self, **kwargs: Any) -> None:
        pass

    def __repr__(self) -> str:
        return f"<MisconfiguredRedisCache: {self._configure_error}>"
