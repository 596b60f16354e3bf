"""Near cache: hot cache reads served from process memory, kept fresh by Redis.

``OPTIONS["NEAR_CACHE"] = {"MAX_ENTRIES": 10_000, "MAX_BYTES": 64 << 20, "MAX_AGE": 300,
"KEYS": ["flags:", "config:*"]}`` keeps the values of matching keys in a bounded LRU in
each process. Redis tells the process when one of those keys changes (server-assisted
client-side caching, ``CLIENT TRACKING``, see :mod:`.tracking`), and the local copy is
dropped before anyone can read it again.

What this module holds is the store and its rules; :mod:`.tracking` runs the invalidation
connections, :mod:`.nearbackend` wires both into the cache backend.

The rules that make a local copy safe:

* **Placeholder before the read.** A miss first records a token for the key, then reads
  Redis; the reply is kept only if the token is still there. An invalidation (or a local
  write) that arrives while the read is in flight removes the token, so a value that may
  be older than the invalidation is never kept.
* **Own writes.** Every write of this process drops its local copy once Redis acknowledged
  it, which also cancels any read in flight for that key.
* **No tracking, no cache.** Until the invalidation connection is subscribed, and from
  the moment it is lost until it is back, every read goes to Redis and nothing is kept;
  the store is emptied both when it is lost and when it is back.
* **Never shared.** The store keeps the serialized bytes; each hit decodes its own copy.
* **Expiry.** An entry lives until its Redis TTL (read with the value) or ``MAX_AGE``,
  whichever is first: Redis expires keys lazily, so its invalidation for an expired key
  may come late.
* **fork().** A child process starts with an empty store and opens its own invalidation
  connection on first use.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..exceptions import ImproperlyConfigured

OPTION = "NEAR_CACHE"
SETTINGS = ("MAX_ENTRIES", "MAX_BYTES", "MAX_AGE", "KEYS")
DEFAULT_MAX_ENTRIES = 10_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_AGE = 300.0
#: Bytes an entry costs besides its key's characters and its value's bytes (object headers,
#: dict slot, tuple, float): bench/bench_near_cache.py measures 570 bytes with tracemalloc
#: for a 291-byte value under an 18-character key.
ENTRY_OVERHEAD = 260
_GLOB = frozenset("*?[]\\")


@dataclasses.dataclass(frozen=True)
class NearCacheSettings:
    max_entries: int = DEFAULT_MAX_ENTRIES
    max_bytes: int = DEFAULT_MAX_BYTES
    max_age: float = DEFAULT_MAX_AGE
    #: Prefixes of the caller's keys (before KEY_PREFIX/version); ``("",)``: every key.
    keys: tuple[str, ...] = ("",)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> NearCacheSettings | None:
        """The settings of ``OPTIONS["NEAR_CACHE"]``, None when absent; errors name the option."""
        raw = options.get(OPTION)
        if raw is None or raw is False:
            return None
        if raw is True:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ImproperlyConfigured(f"OPTIONS[{OPTION!r}] must be a dict of {', '.join(SETTINGS)}, got {raw!r}")
        unknown = sorted(str(k) for k in raw if k not in SETTINGS)
        if unknown:
            raise ImproperlyConfigured(
                f"OPTIONS[{OPTION!r}] has unknown key(s) {', '.join(unknown)}; known: {', '.join(SETTINGS)}"
            )
        return cls(
            max_entries=_positive_int(raw, "MAX_ENTRIES", DEFAULT_MAX_ENTRIES),
            max_bytes=_positive_int(raw, "MAX_BYTES", DEFAULT_MAX_BYTES),
            max_age=_positive_seconds(raw, "MAX_AGE", DEFAULT_MAX_AGE),
            keys=_key_prefixes(raw.get("KEYS")),
        )


def _positive_int(raw: Mapping[str, Any], name: str, default: int) -> int:
    value = raw.get(name, default)
    if type(value) is not int or value <= 0:
        raise ImproperlyConfigured(f"OPTIONS[{OPTION!r}][{name!r}] must be a positive integer, got {value!r}")
    return value


def _positive_seconds(raw: Mapping[str, Any], name: str, default: float) -> float:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ImproperlyConfigured(f"OPTIONS[{OPTION!r}][{name!r}] must be a positive number of seconds, got {value!r}")
    return float(value)


def _key_prefixes(value: Any) -> tuple[str, ...]:
    """``KEYS``: glob prefixes ("flags:*" or "flags:"), the only glob being a trailing ``*``.

    Redis's BCAST tracking takes prefixes, not patterns, and refuses two that overlap; so
    does this option, at startup rather than on the first connection.
    """
    where = f"OPTIONS[{OPTION!r}]['KEYS']"
    if value is None:
        return ("",)
    if isinstance(value, str) or not isinstance(value, list | tuple) or not value:
        raise ImproperlyConfigured(f"{where} must be a non-empty list of key prefixes such as 'flags:*', got {value!r}")
    prefixes: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise ImproperlyConfigured(f"{where}: {item!r} is not a string")
        prefix = item[:-1] if item.endswith("*") else item
        if _GLOB & set(prefix):
            raise ImproperlyConfigured(
                f"{where}: {item!r} is not a prefix; only a trailing '*' is allowed (Redis tracks key prefixes)"
            )
        prefixes.append(prefix)
    for a in prefixes:
        for b in prefixes:
            if a is not b and b.startswith(a):
                raise ImproperlyConfigured(f"{where}: {a + '*'!r} already covers {b + '*'!r}; list only one")
    return tuple(prefixes)


class Store:
    """One process's copies of one cache's hot keys: a bounded LRU of serialized values.

    Thread-safe (one lock, held for dictionary work only). Shared by every backend instance
    of the same cache configuration (Django builds one per thread) and by sync and async
    calls alike.
    """

    def __init__(self, settings: NearCacheSettings, prefixes: tuple[str, ...]) -> None:
        self.settings = settings
        #: Full Redis key prefixes this store tracks (``<KEY_PREFIX>:<version>:<KEYS prefix>``).
        self.prefixes = prefixes
        self._reset()
        self.start_tracking: Callable[[Store], None] | None = None
        _stores.add(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._data: OrderedDict[str, tuple[bytes, float, int]] = OrderedDict()
        self._pending: dict[str, object] = {}
        self._bytes = 0
        #: True while every invalidation connection is subscribed; reads bypass otherwise.
        self.live = False
        self._started = False
        self.trackers: list[Any] = []
        #: Incremented on every flush; tests and the tracker's callers read it.
        self.flushes = 0

    # -- the read path -------------------------------------------------------------------
    def lookup(self, key: str) -> bytes | None:
        """The serialized value of a fresh local copy, or None (go to Redis)."""
        if not self.live:
            if not self._started:
                self._start()
            return None
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            if entry[1] < time.monotonic():
                self._drop(key)
                return None
            self._data.move_to_end(key)
            return entry[0]

    def lookup_many(self, keys: list[str]) -> list[bytes | None]:
        """:meth:`lookup` of several keys under one lock."""
        if not self.live:
            if not self._started:
                self._start()
            return [None] * len(keys)
        now = time.monotonic()
        found: list[bytes | None] = []
        with self._lock:
            data = self._data
            for key in keys:
                entry = data.get(key)
                if entry is None:
                    found.append(None)
                elif entry[1] < now:
                    self._drop(key)
                    found.append(None)
                else:
                    data.move_to_end(key)
                    found.append(entry[0])
        return found

    def begin(self, key: str) -> object | None:
        """The placeholder of a read about to go to Redis; None: do not keep its reply."""
        if not self.live:
            return None
        token = object()
        with self._lock:
            self._pending[key] = token
        return token

    def finish(self, key: str, token: object | None, raw: Any, pttl_ms: int) -> None:
        """Keep ``raw`` if no invalidation, write or flush came since :meth:`begin`."""
        if token is None:
            return
        with self._lock:
            if self._pending.get(key) is not token:
                return
            del self._pending[key]
            if raw is None or pttl_ms == -2 or not self.live or not isinstance(raw, bytes):
                return  # -2: gone between the GET and the PTTL
            settings = self.settings
            size = len(raw) + len(key) + ENTRY_OVERHEAD
            if size > settings.max_bytes:
                return
            age = settings.max_age if pttl_ms < 0 else min(settings.max_age, pttl_ms / 1000)
            self._drop(key)
            self._data[key] = (raw, time.monotonic() + age, size)
            self._bytes += size
            while len(self._data) > settings.max_entries or self._bytes > settings.max_bytes:
                _, (_, _, dropped) = self._data.popitem(last=False)
                self._bytes -= dropped

    # -- invalidation --------------------------------------------------------------------
    def discard(self, keys: Iterable[str]) -> None:
        """Drop local copies and cancel reads in flight (a write or an invalidation)."""
        with self._lock:
            for key in keys:
                self._drop(key)
                self._pending.pop(key, None)

    def flush(self) -> None:
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        self._data.clear()
        self._pending.clear()
        self._bytes = 0
        self.flushes += 1

    def _drop(self, key: str) -> None:
        entry = self._data.pop(key, None)
        if entry is not None:
            self._bytes -= entry[2]

    def set_live(self, live: bool) -> None:
        """Tracking (re)established or lost: either way nothing kept so far can be trusted."""
        with self._lock:
            self._flush()
            self.live = live and all(t.subscribed for t in self.trackers)

    # -- lifecycle -----------------------------------------------------------------------
    def _start(self) -> None:
        with _start_lock:
            if self._started or self.start_tracking is None:
                return
            self._started = True
            self.start_tracking(self)

    def wait_live(self, timeout: float = 5.0) -> bool:
        """Block until tracking is established (tests, warm-up); True when it is."""
        deadline = time.monotonic() + timeout
        while not self.live:
            if not self._started:
                self._start()
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def stop(self) -> None:
        for tracker in self.trackers:
            tracker.stop()
        with self._lock:
            self.live = False
            self._flush()
        self.trackers = []
        self._started = False

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"entries": len(self._data), "bytes": self._bytes, "flushes": self.flushes}

    def __len__(self) -> int:
        return len(self._data)

    def _after_fork_in_child(self) -> None:
        # The parent's lock may have been held by another thread at fork time, its tracker
        # threads do not exist here, and its connection is the parent's socket.
        for tracker in self.trackers:
            tracker.abandon()
        self._reset()


_stores: weakref.WeakSet[Store] = weakref.WeakSet()
_start_lock = threading.Lock()
_registry: dict[Any, Store] = {}
_registry_lock = threading.Lock()


def store_for(key: Any, settings: NearCacheSettings, prefixes: tuple[str, ...]) -> Store:
    """The one store of a cache configuration in this process."""
    store = _registry.get(key)
    if store is None:
        with _registry_lock:
            store = _registry.get(key)
            if store is None:
                store = _registry[key] = Store(settings, prefixes)
    return store


def reset() -> None:
    """Stop every store's tracking and forget them (tests, settings changes)."""
    with _registry_lock:
        stores = list(_registry.values())
        _registry.clear()
    for store in stores:
        store.stop()


def _after_fork_in_child() -> None:
    global _start_lock, _registry_lock
    _start_lock = threading.Lock()
    _registry_lock = threading.Lock()
    for store in list(_stores):
        store._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "CACHES":
        reset()


from django.core.signals import setting_changed  # noqa: E402 - kept beside its only use

setting_changed.connect(_on_setting_changed, dispatch_uid="django_redis_patterns.cache.nearcache.reset")
