"""``get_or_set`` that does not stampede: XFetch, a recompute lock, or Django's plain way.

XFetch (Vattani, Chierichetti, Lowenstein, "Optimal Probabilistic Cache Stampede
Prevention", PVLDB 8(8), 2015): a value is stored with the time ``delta`` it took to
compute. A reader that finds ``delta * beta * -ln(rand()) >= time left`` recomputes it
*before* it expires, so a hot key is refreshed by one (rarely a few) early callers and
nobody sees a miss. The time left comes from Redis (``PTTL``, read in the same Lua call
as the value), never from this machine's clock.

``"lock"`` adds a recompute lock (``SET NX PX``): of the callers that decide to refresh,
only the lock holder computes while the others keep returning the current value; on a
real miss the others poll for the holder's result for up to ``STAMPEDE_LOCK_TIMEOUT``
seconds, then compute themselves.

The sync and async entry points run the same decisions (the pure helpers below); only the
I/O differs. Values carry their compute time in the codec's envelope, which works with
every serializer (integers are stored raw and are never refreshed early).
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import random
import secrets
import time
from typing import TYPE_CHECKING, Any

from ..client import instrument, scripts
from ..exceptions import ImproperlyConfigured
from .codec import Codec
from .errors import REDIS_ERRORS

if TYPE_CHECKING:
    from .backend import RedisCache

FROM_OPTIONS: Any = object()
MODES = ("xfetch", "lock", None)

_get_pttl = scripts.load("get_pttl", package="django_redis_patterns.cache")
_release = scripts.load("release", package="django_redis_patterns.cache")
_add_or_get = scripts.load("add_or_get", package="django_redis_patterns.cache")
_MISSING = object()
LOCK_SUFFIX = ":stampede-lock"


@dataclasses.dataclass(frozen=True)
class Settings:
    mode: str | None = "xfetch"
    beta: float = 1.0
    lock_timeout: float = 10.0

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> Settings:
        mode = options.get("STAMPEDE", "xfetch")
        if mode not in MODES:
            raise ImproperlyConfigured(f"OPTIONS['STAMPEDE'] must be one of {MODES}, got {mode!r}")
        beta = options.get("STAMPEDE_BETA", 1.0)
        if not isinstance(beta, int | float) or beta <= 0:
            raise ImproperlyConfigured(f"OPTIONS['STAMPEDE_BETA'] must be a number > 0, got {beta!r}")
        lock_timeout = options.get("STAMPEDE_LOCK_TIMEOUT", 10.0)
        if not isinstance(lock_timeout, int | float) or lock_timeout <= 0:
            raise ImproperlyConfigured(
                f"OPTIONS['STAMPEDE_LOCK_TIMEOUT'] must be a number of seconds > 0, got {lock_timeout!r}"
            )
        return cls(mode, float(beta), float(lock_timeout))


# -- decisions shared by both twins ------------------------------------------------------


def choose_mode(cache: RedisCache, default: Any, mode: Any) -> str | None:
    if mode is FROM_OPTIONS:
        mode = cache._stampede.mode
    elif mode not in MODES:
        raise ValueError(f"get_or_set(stampede=...) must be one of {MODES}, got {mode!r}")
    # A constant default costs nothing to "recompute": Django's plain behaviour.
    return mode if callable(default) else None


def recompute_early(compute_ms: int, pttl_ms: int, beta: float) -> bool:
    """XFetch's test: ``delta * beta * -ln(U) >= time left`` (U uniform in (0, 1])."""
    if compute_ms <= 0 or pttl_ms < 0:  # unknown cost, or no expiry / missing
        return False
    return -compute_ms * beta * math.log(1.0 - random.random()) >= pttl_ms


def _poll_delays(bound: float) -> tuple[float, float]:
    return time.monotonic() + bound, 0.01


def _next_delay(delay: float) -> float:
    return min(delay * 1.5, 0.1)


class _Call:
    """One get_or_set call: the key, its encodings and the failure policy."""

    def __init__(self, cache: RedisCache, key: Any, default: Any, timeout: Any, version: int | None) -> None:
        self.cache = cache
        self.key = cache.make_and_validate_key(key, version=version)
        self.lock_key = self.key + LOCK_SUFFIX
        self.default = default
        self.ttl_ms = cache._ttl_ms(timeout)
        self.settings = cache._stampede

    def failed(self, exc: BaseException, command: str, fallback: Any) -> Any:
        return self.cache._failed(exc, command, fallback)

    def compute(self) -> tuple[Any, bytes | int]:
        started = time.monotonic()
        value = self.default() if callable(self.default) else self.default
        compute_ms = int((time.monotonic() - started) * 1000) + 1
        return value, Codec.wrap(self.cache._codec.encode(value), compute_ms)

    def decode(self, raw: bytes) -> Any:
        return self.cache._codec.decode(raw)

    def lock_ms(self) -> int:
        return int(self.settings.lock_timeout * 1000)


# -- sync ----------------------------------------------------------------------------------


def get_or_set(cache: RedisCache, key: Any, default: Any, timeout: Any, version: int | None, mode: Any) -> Any:
    mode = choose_mode(cache, default, mode)
    call = _Call(cache, key, default, timeout, version)
    if mode is None:
        return _plain(call)
    client = cache._client()
    try:
        raw, pttl = _get_pttl(client, [call.key])
    except REDIS_ERRORS as exc:
        raw, pttl = call.failed(exc, "GET", (None, -2))
    token: str | None = None
    if instrument.LISTENERS:
        call.cache._looked_up(1 if raw is not None else 0, 1)
    if raw is not None:
        if not recompute_early(Codec.compute_ms(raw), pttl, call.settings.beta):
            return call.decode(raw)
        if mode == "lock":
            token = _try_lock(call, client)
            if token is None:  # someone else refreshes it; ours is still valid
                return call.decode(raw)
    elif mode == "lock":
        token = _try_lock(call, client)
        if token is None:
            found = _wait_for(call, client)
            if found is not _MISSING:
                return found
        else:
            # We may have read the miss just before the previous holder stored its value.
            found = _recheck(call, client, token)
            if found is not _MISSING:
                return found
    return _recompute(call, client, token)


def _recheck(call: _Call, client: Any, token: str) -> Any:
    if not token:
        return _MISSING
    try:
        raw = client.get(call.key)
        if raw is None:
            return _MISSING
        _release(client, [call.lock_key], [token])
    except REDIS_ERRORS as exc:
        return call.failed(exc, "GET", _MISSING)
    return call.decode(raw)


def _plain(call: _Call) -> Any:
    cache = call.cache
    try:
        raw = cache._reader().get(call.key)
    except REDIS_ERRORS as exc:
        raw = call.failed(exc, "GET", None)
    if instrument.LISTENERS:
        cache._looked_up(1 if raw is not None else 0, 1)
    if raw is not None:
        return call.decode(raw)
    value = call.default() if callable(call.default) else call.default
    if call.ttl_ms == 0:
        return value
    try:
        # add, and read the winner's value if someone was first (one round trip)
        existing = _add_or_get(cache._client(), [call.key], [cache._codec.encode(value), call.ttl_ms or 0])
    except REDIS_ERRORS as exc:
        existing = call.failed(exc, "SET NX", None)
    return value if existing is None else call.decode(existing)


def _try_lock(call: _Call, client: Any) -> str | None:
    token = secrets.token_hex(8)
    try:
        got = client.set(call.lock_key, token, px=call.lock_ms(), nx=True)
    except REDIS_ERRORS as exc:
        return call.failed(exc, "SET NX (stampede lock)", "")  # Redis down: compute, uncached
    return token if got else None


def _waited(call: _Call, started: float, found: bool) -> None:
    """Report a wait for another caller's recompute (``found``: its value arrived in time)."""
    seconds = time.monotonic() - started
    instrument.emit(
        "cache", "stampede_wait", call.cache.alias, prefix=call.cache.key_prefix, seconds=seconds, found=found
    )


def _recomputing(call: _Call, locked: bool) -> None:
    """Report a recompute (``locked``: under the recompute lock, so no other caller runs it)."""
    instrument.emit("cache", "recompute", call.cache.alias, prefix=call.cache.key_prefix, locked=locked)


def _wait_for(call: _Call, client: Any) -> Any:
    if instrument.LISTENERS:
        started = time.monotonic()
        found = _wait_for_value(call, client)
        _waited(call, started, found is not _MISSING)
        return found
    return _wait_for_value(call, client)


def _wait_for_value(call: _Call, client: Any) -> Any:
    deadline, delay = _poll_delays(call.settings.lock_timeout)
    while time.monotonic() < deadline:
        time.sleep(delay)
        delay = _next_delay(delay)
        try:
            raw = client.get(call.key)
        except REDIS_ERRORS as exc:
            return call.failed(exc, "GET", _MISSING)
        if raw is not None:
            return call.decode(raw)
    return _MISSING


def _recompute(call: _Call, client: Any, token: str | None) -> Any:
    if instrument.LISTENERS:
        _recomputing(call, token is not None)
    try:
        value, stored = call.compute()
    except BaseException:
        if token:
            try:
                _release(client, [call.lock_key], [token])
            except REDIS_ERRORS:
                pass  # the lock expires by itself
        raise
    if call.ttl_ms == 0:
        return value
    try:
        if token:  # store and release in one pipeline (on Cluster, one batch per node)
            pipe = client.pipeline(transaction=False)
            pipe.set(call.key, stored, px=call.ttl_ms)
            _release.queue(pipe, [call.lock_key], [token])
            pipe.execute()
        else:
            client.set(call.key, stored, px=call.ttl_ms)
    except REDIS_ERRORS as exc:
        call.failed(exc, "SET", None)
    return value


# -- async ---------------------------------------------------------------------------------


async def aget_or_set(cache: RedisCache, key: Any, default: Any, timeout: Any, version: int | None, mode: Any) -> Any:
    mode = choose_mode(cache, default, mode)
    call = _Call(cache, key, default, timeout, version)
    if mode is None:
        return await _aplain(call)
    client = await cache._aclient()
    try:
        raw, pttl = await _get_pttl.acall(client, [call.key])
    except REDIS_ERRORS as exc:
        raw, pttl = call.failed(exc, "GET", (None, -2))
    token: str | None = None
    if instrument.LISTENERS:
        call.cache._looked_up(1 if raw is not None else 0, 1)
    if raw is not None:
        if not recompute_early(Codec.compute_ms(raw), pttl, call.settings.beta):
            return call.decode(raw)
        if mode == "lock":
            token = await _atry_lock(call, client)
            if token is None:
                return call.decode(raw)
    elif mode == "lock":
        token = await _atry_lock(call, client)
        if token is None:
            found = await _await_for(call, client)
            if found is not _MISSING:
                return found
        else:
            found = await _arecheck(call, client, token)
            if found is not _MISSING:
                return found
    return await _arecompute(call, client, token)


async def _arecheck(call: _Call, client: Any, token: str) -> Any:
    if not token:
        return _MISSING
    try:
        raw = await client.get(call.key)
        if raw is None:
            return _MISSING
        await _release.acall(client, [call.lock_key], [token])
    except REDIS_ERRORS as exc:
        return call.failed(exc, "GET", _MISSING)
    return call.decode(raw)


async def _aplain(call: _Call) -> Any:
    cache = call.cache
    try:
        raw = await (await cache._areader()).get(call.key)
    except REDIS_ERRORS as exc:
        raw = call.failed(exc, "GET", None)
    if instrument.LISTENERS:
        cache._looked_up(1 if raw is not None else 0, 1)
    if raw is not None:
        return call.decode(raw)
    value = call.default() if callable(call.default) else call.default
    if call.ttl_ms == 0:
        return value
    try:
        client = await cache._aclient()
        existing = await _add_or_get.acall(client, [call.key], [cache._codec.encode(value), call.ttl_ms or 0])
    except REDIS_ERRORS as exc:
        existing = call.failed(exc, "SET NX", None)
    return value if existing is None else call.decode(existing)


async def _atry_lock(call: _Call, client: Any) -> str | None:
    token = secrets.token_hex(8)
    try:
        got = await client.set(call.lock_key, token, px=call.lock_ms(), nx=True)
    except REDIS_ERRORS as exc:
        return call.failed(exc, "SET NX (stampede lock)", "")  # type: ignore[no-any-return]
    return token if got else None


async def _await_for(call: _Call, client: Any) -> Any:
    if instrument.LISTENERS:
        started = time.monotonic()
        found = await _await_for_value(call, client)
        _waited(call, started, found is not _MISSING)
        return found
    return await _await_for_value(call, client)


async def _await_for_value(call: _Call, client: Any) -> Any:
    deadline, delay = _poll_delays(call.settings.lock_timeout)
    while time.monotonic() < deadline:
        await asyncio.sleep(delay)
        delay = _next_delay(delay)
        try:
            raw = await client.get(call.key)
        except REDIS_ERRORS as exc:
            return call.failed(exc, "GET", _MISSING)
        if raw is not None:
            return call.decode(raw)
    return _MISSING


async def _arecompute(call: _Call, client: Any, token: str | None) -> Any:
    if instrument.LISTENERS:
        _recomputing(call, token is not None)
    try:
        value, stored = call.compute()
    except BaseException:
        if token:
            try:
                await _release.acall(client, [call.lock_key], [token])
            except REDIS_ERRORS:
                pass
        raise
    if call.ttl_ms == 0:
        return value
    try:
        if token:
            pipe = client.pipeline(transaction=False)
            pipe.set(call.key, stored, px=call.ttl_ms)
            _release.queue(pipe, [call.lock_key], [token])
            await pipe.execute()
        else:
            await client.set(call.key, stored, px=call.ttl_ms)
    except REDIS_ERRORS as exc:
        call.failed(exc, "SET", None)
    return value
