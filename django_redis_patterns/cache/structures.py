"""django-redis's hash, set and sorted-set helpers on the cache backend (``cache.sadd(...)``).

Same names, signatures, key making and value encoding as django-redis 6+: the Redis key is
the cache key (``<prefix>:<version>:<key>``); set members, sorted-set members and hash
values go through the cache's serializer and compressor (integers stay raw, except
sorted-set members, which are always serialized), hash fields and scores are sent as they
are. Both backends therefore read each other's structures. django-redis's ``client=``
argument (run on a given redis-py client or pipeline) is not offered: use
``cache.get_client()`` for raw commands.

Commands naming several keys (``sdiff``, ``sinter``, ``sunion``, their ``*store`` variants and
``smove``) need those keys in one hash slot on Redis Cluster; otherwise they raise
``ValueError`` naming the keys before anything is sent (put a ``{hash tag}`` in the keys).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from django.core.cache.backends.base import BaseCache
from redis.crc import key_slot

from .errors import REDIS_ERRORS, guarded


def _zero(*args: Any, **kwargs: Any) -> int:
    return 0


def _empty_set(*args: Any, **kwargs: Any) -> set[Any]:
    return set()


def _empty_list(*args: Any, **kwargs: Any) -> list[Any]:
    return []


def _none(*args: Any, **kwargs: Any) -> None:
    return None


class StructuresMixin(BaseCache):
    """Mixed into :class:`~.backend.RedisCache`; relies on its key making, codec and clients."""

    _codec: Any
    _cluster: bool

    # These come from RedisCache (declared for the type checker).
    def _client(self) -> Any:
        raise NotImplementedError

    def _reader(self) -> Any:
        raise NotImplementedError

    def _failed(self, exc: BaseException, command: str, fallback: Any) -> Any:
        raise NotImplementedError

    # -- helpers ------------------------------------------------------------------------
    def _member(self, value: Any) -> Any:
        """A sorted-set member: always serialized (django-redis's ``allow_int=False``)."""
        return self._codec.encode_serialized(value)

    def _keys(self, command: str, keys: tuple[Any, ...], version: int | None, *extra: str) -> list[str]:
        made = [*extra, *(self.make_and_validate_key(k, version=version) for k in keys)]
        if self._cluster and len({key_slot(k.encode()) for k in made}) > 1:
            raise ValueError(
                f"{command}() on Redis Cluster needs all its keys in one hash slot, got {made!r}: "
                "give them a common {hash tag}, e.g. 'cart:{user42}:a' and 'cart:{user42}:b'"
            )
        return made

    def _decode_set(self, values: Any) -> set[Any]:
        decode = self._codec.decode
        return {decode(v) for v in values}

    def _scored(self, result: Any, withscores: bool) -> list[Any]:
        decode = self._codec.decode
        if withscores:
            return [(decode(member), score) for member, score in result]
        return [decode(member) for member in result]

    # -- hashes ---------------------------------------------------------------------------
    @guarded("HSET", _zero)
    def hset(
        self,
        key: Any,
        field: Any = None,
        value: Any = None,
        mapping: Mapping[Any, Any] | None = None,
        version: int | None = None,
    ) -> int:
        """Set ``field`` (and/or every field of ``mapping``); the number of fields added."""
        encode = self._codec.encode
        return int(
            self._client().hset(
                self.make_and_validate_key(key, version=version),
                key=field,
                value=encode(value) if value is not None else None,
                mapping={f: encode(v) for f, v in mapping.items()} if mapping is not None else None,
            )
        )

    @guarded("HGET", lambda key, field, default=None, version=None: default)
    def hget(self, key: Any, field: Any, default: Any = None, version: int | None = None) -> Any:
        """The decoded value of ``field``, or ``default``."""
        raw = self._reader().hget(self.make_and_validate_key(key, version=version), field)
        return default if raw is None else self._codec.decode(raw)

    @guarded("HDEL", _zero)
    def hdel(self, key: Any, field: Any, version: int | None = None) -> int:
        return int(self._client().hdel(self.make_and_validate_key(key, version=version), field))

    @guarded("HLEN", _zero)
    def hlen(self, key: Any, version: int | None = None) -> int:
        return int(self._reader().hlen(self.make_and_validate_key(key, version=version)))

    @guarded("HKEYS", _empty_list)
    def hkeys(self, key: Any, version: int | None = None) -> list[str]:
        fields = self._reader().hkeys(self.make_and_validate_key(key, version=version))
        return [f.decode() if isinstance(f, bytes) else f for f in fields]

    @guarded("HEXISTS")
    def hexists(self, key: Any, field: Any, version: int | None = None) -> bool:
        return bool(self._reader().hexists(self.make_and_validate_key(key, version=version), field))

    # -- sets -----------------------------------------------------------------------------
    @guarded("SADD", _zero)
    def sadd(self, key: Any, *values: Any, version: int | None = None) -> int:
        encode = self._codec.encode
        return int(self._client().sadd(self.make_and_validate_key(key, version=version), *map(encode, values)))

    @guarded("SCARD", _zero)
    def scard(self, key: Any, version: int | None = None) -> int:
        return int(self._reader().scard(self.make_and_validate_key(key, version=version)))

    @guarded("SMEMBERS", _empty_set)
    def smembers(self, key: Any, version: int | None = None) -> set[Any]:
        return self._decode_set(self._reader().smembers(self.make_and_validate_key(key, version=version)))

    @guarded("SISMEMBER")
    def sismember(self, key: Any, member: Any, version: int | None = None) -> bool:
        made = self.make_and_validate_key(key, version=version)
        return bool(self._reader().sismember(made, self._codec.encode(member)))

    @guarded("SMISMEMBER", _empty_list)
    def smismember(self, key: Any, *members: Any, version: int | None = None) -> list[bool]:
        made = self.make_and_validate_key(key, version=version)
        return [bool(v) for v in self._reader().smismember(made, [self._codec.encode(m) for m in members])]

    @guarded("SREM", _zero)
    def srem(self, key: Any, *members: Any, version: int | None = None) -> int:
        encode = self._codec.encode
        return int(self._client().srem(self.make_and_validate_key(key, version=version), *map(encode, members)))

    @guarded("SMOVE")
    def smove(self, source: Any, destination: Any, member: Any, version: int | None = None) -> bool:
        # django-redis makes the destination key without the version argument: same here, so
        # both backends move into the same key.
        src = self.make_and_validate_key(source, version=version)
        (dst,) = self._keys("smove", (destination,), None, src)[1:]
        return bool(self._client().smove(src, dst, self._codec.encode(member)))

    @guarded("SPOP", _none)
    def spop(self, key: Any, count: int | None = None, version: int | None = None) -> Any:
        """One decoded member (``count=None``) or a set of ``count`` members."""
        result = self._client().spop(self.make_and_validate_key(key, version=version), count)
        if result is None:
            return None
        return self._decode_set(result) if isinstance(result, list | set) else self._codec.decode(result)

    @guarded("SRANDMEMBER", _none)
    def srandmember(self, key: Any, count: int | None = None, version: int | None = None) -> Any:
        """One decoded member (``count=None``) or a list of ``count`` members."""
        result = self._reader().srandmember(self.make_and_validate_key(key, version=version), count)
        if result is None:
            return None
        if isinstance(result, list):
            return [self._codec.decode(v) for v in result]
        return self._codec.decode(result)

    def _check_match(self, match: str | None) -> Any:
        if not match:
            return None
        if self._codec.compresses:
            raise ValueError("sscan(match=...) cannot match compressed members: drop COMPRESSOR or match in Python")
        return self._codec.encode(match)

    @guarded("SSCAN", _empty_set)
    def sscan(self, key: Any, match: str | None = None, count: int | None = 10, version: int | None = None) -> set[Any]:
        """One SSCAN page from cursor 0 (django-redis's semantics); ``match`` is a member glob."""
        pattern = self._check_match(match)
        _, values = self._reader().sscan(self.make_and_validate_key(key, version=version), match=pattern, count=count)
        return self._decode_set(values)

    def sscan_iter(
        self, key: Any, match: str | None = None, count: int | None = 10, version: int | None = None
    ) -> Iterator[Any]:
        pattern = self._check_match(match)
        made = self.make_and_validate_key(key, version=version)
        try:
            for value in self._reader().sscan_iter(made, match=pattern, count=count):
                yield self._codec.decode(value)
        except REDIS_ERRORS as exc:
            self._failed(exc, "SSCAN", None)

    @guarded("SDIFF", _empty_set)
    def sdiff(self, *keys: Any, version: int | None = None) -> set[Any]:
        return self._decode_set(self._reader().sdiff(self._keys("sdiff", keys, version)))

    @guarded("SINTER", _empty_set)
    def sinter(self, *keys: Any, version: int | None = None) -> set[Any]:
        return self._decode_set(self._reader().sinter(self._keys("sinter", keys, version)))

    @guarded("SUNION", _empty_set)
    def sunion(self, *keys: Any, version: int | None = None) -> set[Any]:
        return self._decode_set(self._reader().sunion(self._keys("sunion", keys, version)))

    @guarded("SDIFFSTORE", _zero)
    def sdiffstore(
        self, dest: Any, *keys: Any, version_dest: int | None = None, version_keys: int | None = None
    ) -> int:
        made_dest = self.make_and_validate_key(dest, version=version_dest)
        made = self._keys("sdiffstore", keys, version_keys, made_dest)
        return int(self._client().sdiffstore(made[0], made[1:]))

    @guarded("SINTERSTORE", _zero)
    def sinterstore(self, dest: Any, *keys: Any, version: int | None = None) -> int:
        made = self._keys("sinterstore", (dest, *keys), version)
        return int(self._client().sinterstore(made[0], made[1:]))

    @guarded("SUNIONSTORE", _zero)
    def sunionstore(self, destination: Any, *keys: Any, version: int | None = None) -> int:
        made = self._keys("sunionstore", (destination, *keys), version)
        return int(self._client().sunionstore(made[0], made[1:]))

    # -- sorted sets ------------------------------------------------------------------------
    @guarded("ZADD", _zero)
    def zadd(
        self,
        key: Any,
        mapping: Mapping[Any, float],
        nx: bool = False,
        xx: bool = False,
        ch: bool = False,
        incr: bool = False,
        gt: bool = False,
        lt: bool = False,
        version: int | None = None,
    ) -> Any:
        """Members are serialized, scores sent as numbers (django-redis's format)."""
        encoded = {self._member(m): score for m, score in mapping.items()}
        made = self.make_and_validate_key(key, version=version)
        return self._client().zadd(made, encoded, nx=nx, xx=xx, ch=ch, incr=incr, gt=gt, lt=lt)

    @guarded("ZCARD", _zero)
    def zcard(self, key: Any, version: int | None = None) -> int:
        return int(self._reader().zcard(self.make_and_validate_key(key, version=version)))

    @guarded("ZCOUNT", _zero)
    def zcount(self, key: Any, min: float | str, max: float | str, version: int | None = None) -> int:
        return int(self._reader().zcount(self.make_and_validate_key(key, version=version), min, max))

    @guarded("ZINCRBY", _none)
    def zincrby(self, key: Any, amount: float, value: Any, version: int | None = None) -> float | None:
        return self._client().zincrby(  # type: ignore[no-any-return]
            self.make_and_validate_key(key, version=version), amount, self._member(value)
        )

    def _pop(self, command: str, key: Any, count: int | None, version: int | None) -> Any:
        made = self.make_and_validate_key(key, version=version)
        result = getattr(self._client(), command)(made, count)
        if not result:
            return None if count is None else []
        decoded = [(self._codec.decode(member), score) for member, score in result]
        return decoded[0] if count is None else decoded

    @guarded("ZPOPMAX", _none)
    def zpopmax(self, key: Any, count: int | None = None, version: int | None = None) -> Any:
        """``(member, score)`` (``count=None``; ``None`` when empty) or a list of ``count`` of them."""
        return self._pop("zpopmax", key, count, version)

    @guarded("ZPOPMIN", _none)
    def zpopmin(self, key: Any, count: int | None = None, version: int | None = None) -> Any:
        return self._pop("zpopmin", key, count, version)

    @guarded("ZRANGE", _empty_list)
    def zrange(
        self,
        key: Any,
        start: int,
        end: int,
        desc: bool = False,
        withscores: bool = False,
        score_cast_func: type = float,
        version: int | None = None,
    ) -> list[Any]:
        made = self.make_and_validate_key(key, version=version)
        result = self._reader().zrange(
            made, start, end, desc=desc, withscores=withscores, score_cast_func=score_cast_func
        )
        return self._scored(result, withscores)

    @guarded("ZREVRANGE", _empty_list)
    def zrevrange(
        self,
        key: Any,
        start: int,
        end: int,
        withscores: bool = False,
        score_cast_func: type = float,
        version: int | None = None,
    ) -> list[Any]:
        made = self.make_and_validate_key(key, version=version)
        result = self._reader().zrevrange(made, start, end, withscores=withscores, score_cast_func=score_cast_func)
        return self._scored(result, withscores)

    @guarded("ZRANGEBYSCORE", _empty_list)
    def zrangebyscore(
        self,
        key: Any,
        min: float | str,
        max: float | str,
        start: int | None = None,
        num: int | None = None,
        withscores: bool = False,
        score_cast_func: type = float,
        version: int | None = None,
    ) -> list[Any]:
        made = self.make_and_validate_key(key, version=version)
        result = self._reader().zrangebyscore(
            made, min, max, start=start, num=num, withscores=withscores, score_cast_func=score_cast_func
        )
        return self._scored(result, withscores)

    @guarded("ZREVRANGEBYSCORE", _empty_list)
    def zrevrangebyscore(
        self,
        key: Any,
        max: float | str,
        min: float | str,
        start: int | None = None,
        num: int | None = None,
        withscores: bool = False,
        score_cast_func: type = float,
        version: int | None = None,
    ) -> list[Any]:
        made = self.make_and_validate_key(key, version=version)
        result = self._reader().zrevrangebyscore(
            made, max, min, start=start, num=num, withscores=withscores, score_cast_func=score_cast_func
        )
        return self._scored(result, withscores)

    @guarded("ZRANK", _none)
    def zrank(self, key: Any, value: Any, withscore: bool = False, version: int | None = None) -> Any:
        made = self.make_and_validate_key(key, version=version)
        if withscore:
            return self._reader().zrank(made, self._member(value), withscore=True)
        return self._reader().zrank(made, self._member(value))

    @guarded("ZREM", _zero)
    def zrem(self, key: Any, *values: Any, version: int | None = None) -> int:
        made = self.make_and_validate_key(key, version=version)
        return int(self._client().zrem(made, *map(self._member, values)))

    @guarded("ZREMRANGEBYSCORE", _zero)
    def zremrangebyscore(self, key: Any, min: float | str, max: float | str, version: int | None = None) -> int:
        return int(self._client().zremrangebyscore(self.make_and_validate_key(key, version=version), min, max))

    @guarded("ZSCORE", _none)
    def zscore(self, key: Any, value: Any, version: int | None = None) -> float | None:
        made = self.make_and_validate_key(key, version=version)
        return self._reader().zscore(made, self._member(value))  # type: ignore[no-any-return]
