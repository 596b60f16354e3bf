"""The cache backend with ``OPTIONS["NEAR_CACHE"]``: reads of hot keys from process memory.

:func:`near_class` gives the backend class a near-cached :class:`~.backend.RedisCache`
becomes (built per backend class, so a project's subclass keeps its own methods). It
overrides only what the near cache changes:

* reads of tracked keys (``get``, ``get_many``, ``get_or_set``, ``has_key`` and the async
  twins) look in the :class:`~.nearcache.Store` first; a miss reads the value and its TTL
  from the primary (a replica could answer with a value older than an invalidation
  already applied) and keeps it under the placeholder rule;
* every write drops the local copy of the keys it touched once Redis acknowledged it;
  ``clear()`` and ``delete_pattern()`` empty the store.

Only keys of the cache's default ``VERSION`` are near-cached (those are the tracked
prefixes); a read with another ``version`` goes to Redis.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT, default_key_func

from ..client import connections, scripts
from ..exceptions import ImproperlyConfigured
from . import errors, nearcache
from . import stampede as _stampede
from .backend import RedisCache
from .errors import REDIS_ERRORS, guarded
from .nearcache import NearCacheSettings, Store
from .tracking import ClusterWatch, Tracker, connection_factory

_get_pttl_script = scripts.load("get_pttl", package="django_redis_patterns.cache")


def configure(cache: Any, settings: NearCacheSettings) -> None:
    """Attach the process's store for this cache's configuration (called by the backend)."""
    if cache.key_func is not default_key_func:
        raise ImproperlyConfigured(
            f"OPTIONS[{nearcache.OPTION!r}] needs Django's default KEY_FUNCTION: Redis tracks key prefixes, "
            "and a custom key function's keys have none this backend can compute"
        )
    if cache._spec.fake:
        raise ImproperlyConfigured(
            f"OPTIONS[{nearcache.OPTION!r}] needs a real Redis server (fakeredis has no CLIENT TRACKING)"
        )
    head = f"{cache.key_prefix}:{cache.version}:"
    prefixes = tuple(head + p for p in settings.keys)
    identity = (
        cache._spec,
        prefixes,
        settings,
        repr(cache._options.get("SERIALIZER")),
        repr(cache._options.get("COMPRESSOR")),
    )
    store = nearcache.store_for(identity, settings, prefixes)
    if store.start_tracking is None:
        store.start_tracking = functools.partial(_start_tracking, cache._spec)
    cache._near = store
    cache._near_prefixes = prefixes
    cache._near_head = head


def _start_tracking(spec: connections.ConnectionSpec, store: Store) -> None:
    client = connections.client_for_spec(spec)
    label = ", ".join(spec.display_nodes())
    if connections.is_cluster(client):
        watch = ClusterWatch(store, client, label)
        store.trackers = [watch]
        watch.start()
        return
    tracker = Tracker(store, connection_factory(client), label)
    store.trackers = [tracker]
    tracker.start()


def _read_with_ttl(client: Any, made: str) -> tuple[Any, int]:
    """The value and its milliseconds to live, in one round trip.

    A lean client sends ``GET`` and ``PTTL`` in one write (cheaper than a script: the miss
    path then costs about what a plain ``GET`` does); others run a script. The two
    commands are not atomic, and need not be: a write between them sends an invalidation
    that cancels the read's placeholder.
    """
    together = getattr(client, "execute_together", None)
    if together is not None:
        raw, pttl = together(("GET", made), ("PTTL", made))
        return raw, pttl
    raw, pttl = _get_pttl_script(client, [made])
    return raw, pttl


#: What ``_decode`` answers for a local copy SignedSerializer refuses: the Redis path decides.
_REFUSED = object()


class NearCacheMixin:
    """Backend methods of a near-cached RedisCache (see the module docstring)."""

    _near: Store
    _near_prefixes: tuple[str, ...]
    _near_head: str

    # -- reads ---------------------------------------------------------------------------
    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        # Guarded inline rather than by @guarded: on a local hit the wrapper's extra call is a
        # sizeable part of the whole.
        try:
            made = self.make_and_validate_key(key, version=version)  # type: ignore[attr-defined]
            if made.startswith(self._near_prefixes):
                raw = self._near.lookup(made)
                if raw is None:
                    raw = self._near_read(made)
            else:
                raw = self._reader().get(made)  # type: ignore[attr-defined]
        except REDIS_ERRORS as exc:
            return self._failed(exc, "GET", default)  # type: ignore[attr-defined]
        if errors._failing:
            errors.record_success(self.alias, self._spec)  # type: ignore[attr-defined]
        return self._decode(raw, default)  # type: ignore[attr-defined]

    def _near_read(self, made: str) -> Any:
        """A miss: read the value and its TTL from the primary, keep it under the placeholder rule."""
        store = self._near
        token = store.begin(made)
        raw = None
        try:
            raw, pttl = _read_with_ttl(self._client(), made)  # type: ignore[attr-defined]
        finally:
            store.finish(made, token, raw, pttl if raw is not None else -2)
        return raw

    async def aget(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        try:
            made = self.make_and_validate_key(key, version=version)  # type: ignore[attr-defined]
            if not made.startswith(self._near_prefixes):
                return await super().aget(key, default, version)  # type: ignore[misc]
            store = self._near
            raw = store.lookup(made)
            if raw is None:
                token = store.begin(made)
                try:
                    client = await self._aclient()  # type: ignore[attr-defined]
                    raw, pttl = await _get_pttl_script.acall(client, [made])
                finally:
                    store.finish(made, token, raw, pttl if raw is not None else -2)
        except REDIS_ERRORS as exc:
            return self._failed(exc, "GET", default)  # type: ignore[attr-defined]
        return self._decode(raw, default)  # type: ignore[attr-defined]

    def _near_split(self, key_map: dict[str, Any]) -> tuple[dict[Any, Any], list[str], dict[str, Any]]:
        """(hits decoded, near-cached keys to read, other keys to read) of a get_many."""
        prefixes = self._near_prefixes
        tracked = [made for made in key_map if made.startswith(prefixes)]
        other = (
            {made: key for made, key in key_map.items() if not made.startswith(prefixes)}
            if len(tracked) < len(key_map)
            else {}
        )
        raws = self._near.lookup_many(tracked)
        hits = [(made, raw) for made, raw in zip(tracked, raws, strict=True) if raw is not None]
        # The base's decoding: a value SignedSerializer refuses is left out, as a miss.
        found = self._decode_many({made: key_map[made] for made, _ in hits}, [raw for _, raw in hits])  # type: ignore[attr-defined]
        near = [made for made, raw in zip(tracked, raws, strict=True) if raw is None]
        return found, near, other

    def _near_keep(self, key_map: dict[str, Any], near: list[str], tokens: list[Any], replies: list[Any]) -> dict:
        store, decode, miss = self._near, self._decode, object()  # type: ignore[attr-defined]
        found = {}
        for i, made in enumerate(near):
            raw, pttl = replies[2 * i], replies[2 * i + 1]
            store.finish(made, tokens[i], raw, pttl)
            if (value := decode(raw, miss)) is not miss:
                found[key_map[made]] = value
        return found

    @guarded("MGET", lambda keys, version=None: {})
    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        key_map = self._made_keys(keys, version)  # type: ignore[attr-defined]
        found, near, other = self._near_split(key_map)
        if other:
            found.update(super().get_many(other.values(), version))  # type: ignore[misc]
        if near:
            store = self._near
            tokens = [store.begin(made) for made in near]
            try:
                client = self._client()  # type: ignore[attr-defined]
                together = getattr(client, "execute_together", None)
                if together is not None:
                    replies = together(*[(command, made) for made in near for command in ("GET", "PTTL")])
                else:
                    pipe = client.pipeline(transaction=False)
                    for made in near:
                        pipe.get(made)
                        pipe.pttl(made)
                    replies = pipe.execute()
            except BaseException:
                for made, token in zip(near, tokens, strict=True):
                    store.finish(made, token, None, -2)
                raise
            found.update(self._near_keep(key_map, near, tokens, replies))
        return found

    @guarded("MGET", lambda keys, version=None: {})
    async def aget_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        key_map = self._made_keys(keys, version)  # type: ignore[attr-defined]
        found, near, other = self._near_split(key_map)
        if other:
            found.update(await super().aget_many(other.values(), version))  # type: ignore[misc]
        if near:
            store = self._near
            tokens = [store.begin(made) for made in near]
            try:
                pipe = (await self._aclient()).pipeline(transaction=False)  # type: ignore[attr-defined]
                for made in near:
                    pipe.get(made)
                    pipe.pttl(made)
                replies = await pipe.execute()
            except BaseException:
                for made, token in zip(near, tokens, strict=True):
                    store.finish(made, token, None, -2)
                raise
            found.update(self._near_keep(key_map, near, tokens, replies))
        return found

    def has_key(self, key: Any, version: int | None = None) -> bool:
        made = self.make_and_validate_key(key, version=version)  # type: ignore[attr-defined]
        if made.startswith(self._near_prefixes) and self._near.lookup(made) is not None:
            return True
        return super().has_key(key, version)  # type: ignore[misc,no-any-return]

    async def ahas_key(self, key: Any, version: int | None = None) -> bool:
        made = self.make_and_validate_key(key, version=version)  # type: ignore[attr-defined]
        if made.startswith(self._near_prefixes) and self._near.lookup(made) is not None:
            return True
        return await super().ahas_key(key, version)  # type: ignore[misc,no-any-return]

    def get_or_set(
        self,
        key: Any,
        default: Any,
        timeout: Any = DEFAULT_TIMEOUT,
        version: int | None = None,
        *,
        stampede: str | object | None = _stampede.FROM_OPTIONS,
    ) -> Any:
        """A local hit is returned as it is; otherwise the stampede-safe Redis path (which may write)."""
        raw = self._near_hit(key, version)
        if raw is not None and (value := self._decode(raw, _REFUSED)) is not _REFUSED:  # type: ignore[attr-defined]
            return value
        try:
            return super().get_or_set(key, default, timeout, version, stampede=stampede)  # type: ignore[misc]
        finally:
            self._near_forget([key])

    async def aget_or_set(
        self,
        key: Any,
        default: Any,
        timeout: Any = DEFAULT_TIMEOUT,
        version: int | None = None,
        *,
        stampede: str | object | None = _stampede.FROM_OPTIONS,
    ) -> Any:
        raw = self._near_hit(key, version)
        if raw is not None and (value := self._decode(raw, _REFUSED)) is not _REFUSED:  # type: ignore[attr-defined]
            return value
        try:
            return await super().aget_or_set(key, default, timeout, version, stampede=stampede)  # type: ignore[misc]
        finally:
            self._near_forget([key])

    def _near_hit(self, key: Any, version: int | None) -> bytes | None:
        made = self.make_and_validate_key(key, version=version)  # type: ignore[attr-defined]
        return self._near.lookup(made) if made.startswith(self._near_prefixes) else None

    # -- writes --------------------------------------------------------------------------
    def _near_forget(self, keys: Iterable[Any]) -> None:
        # Only default-version keys are ever kept, so whatever version a write named, the
        # key to drop is the default-version one (dropping it needlessly costs one miss).
        head = self._near_head
        self._near.discard([f"{head}{key}" for key in keys])

    def near_cache(self) -> Store:
        """This process's store for the cache (stats, ``wait_live()``, ``flush()``)."""
        return self._near


def _forgetting(name: str, keys_of: Callable[[tuple[Any, ...], dict[str, Any]], Iterable[Any]] | None) -> Any:
    """An override of RedisCache.<name> that drops local copies after the write (``None``: all)."""
    base = getattr(RedisCache, name)

    def forget(self: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if keys_of is None:
            self._near.flush()
        else:
            self._near_forget(keys_of(args, kwargs))

    if inspect.iscoroutinefunction(base):

        async def async_method(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return await getattr(super(NearCacheMixin, self), name)(*args, **kwargs)
            finally:
                forget(self, args, kwargs)

        return functools.wraps(base)(async_method)

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(super(NearCacheMixin, self), name)(*args, **kwargs)
        finally:
            forget(self, args, kwargs)

    return functools.wraps(base)(method)


def _first_key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
    return [args[0] if args else kwargs["key"]]


def _many(argument: str) -> Callable[[tuple[Any, ...], dict[str, Any]], list[Any]]:
    def keys_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
        return list(args[0] if args else kwargs[argument])

    return keys_of


_SINGLE_KEY_WRITES = (
    "set",
    "add",
    "touch",
    "delete",
    "incr",
    "decr",
    "incr_version",
    "decr_version",
    "expire",
    "pexpire",
    "expire_at",
    "pexpire_at",
    "persist",
)
for _name in _SINGLE_KEY_WRITES:
    for _variant in (_name, "a" + _name):
        setattr(NearCacheMixin, _variant, _forgetting(_variant, _first_key))
for _variant in ("set_many", "aset_many"):
    setattr(NearCacheMixin, _variant, _forgetting(_variant, _many("data")))
for _variant in ("delete_many", "adelete_many"):
    setattr(NearCacheMixin, _variant, _forgetting(_variant, _many("keys")))
for _variant in ("clear", "aclear", "delete_pattern", "adelete_pattern"):
    setattr(NearCacheMixin, _variant, _forgetting(_variant, None))

_classes: dict[type, type] = {}


def near_class(cls: type) -> type:
    """``cls`` with the near cache's methods in front (one class per backend class)."""
    found = _classes.get(cls)
    if found is None:
        found = _classes[cls] = type(f"NearCached{cls.__name__}", (NearCacheMixin, cls), {"__module__": __name__})
    return found
