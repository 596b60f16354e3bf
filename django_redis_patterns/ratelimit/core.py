"""The limiter: ``hit`` / ``peek`` / ``reset`` a key against one or more rates, one round trip.

    from django_redis_patterns.ratelimit import Limiter

    usage = Limiter().hit("login:" + username, "5/m;20/h")
    if not usage.allowed:
        ...  # usage.retry_after seconds

Sync and async share everything but the I/O: :meth:`Limiter._call` builds the script's
keys and arguments, :meth:`Usage.from_reply` parses the answer.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Any

import redis.exceptions

from django_redis_patterns import conf
from django_redis_patterns.client import connections, instrument
from django_redis_patterns.exceptions import ImproperlyConfigured

from . import algorithms
from .conf import get as settings
from .exceptions import RatelimitCacheError, RatelimitConfigError
from .keys import key_function
from .rates import MAX_PERIOD, Rate, RateSpec, parse, resolve
from .usage import RateUsage, Usage

logger = logging.getLogger("django_redis_patterns.ratelimit")

#: Errors meaning "Redis is unreachable or too slow", handled by the FAIL_OPEN policy.
#: A ResponseError (a script bug, WRONGTYPE) is not one of them: it propagates.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.ClusterError,
    redis.exceptions.TryAgainError,
    redis.exceptions.ReadOnlyError,
)

_down: set[str] = set()
_down_lock = threading.Lock()

#: A check's prepared script call: the rates, the Redis keys and ARGV.
_Prepared = tuple[tuple[Rate, ...], list[str], list[int | str]]
#: Prepared calls a Limiter remembers (then it starts over).
PREPARED_MAX = 4096


def _note_failure(alias: str, command: str, exc: BaseException, fail_open: bool) -> None:
    with _down_lock:
        first = alias not in _down
        _down.add(alias)
    if first:  # once per incident, not once per request
        logger.error(
            "rate limiter: Redis unreachable (alias %r, command %s): %s; failing %s until it answers again",
            alias,
            command,
            exc,
            "open" if fail_open else "closed",
        )


def _note_success(alias: str) -> None:
    if alias in _down:
        with _down_lock:
            recovered = alias in _down
            _down.discard(alias)
        if recovered:
            logger.warning("rate limiter: Redis reachable again (alias %r)", alias)


def _rates(rate: RateSpec | tuple[Rate, ...]) -> tuple[Rate, ...]:
    if isinstance(rate, tuple) and rate and all(isinstance(r, Rate) for r in rate):
        return rate
    return parse(rate)


def digest(key: str) -> str:
    """Hash of a key value: no raw user data (usernames, IPs) ends up in Redis key names."""
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


class Limiter:
    """Check keys against rates with one algorithm, on one Redis alias.

    ``algorithm``: one of :data:`algorithms.ALGORITHMS` (default: the ``ALGORITHM``
    setting, itself ``"gcra"``). ``burst`` (gcra only): hits allowed at once, default the
    rate's limit. ``fail_open`` overrides the ``FAIL_OPEN`` setting.
    """

    def __init__(
        self,
        algorithm: str | None = None,
        *,
        using: str | None = None,
        burst: int | None = None,
        fail_open: bool | None = None,
    ):
        self.algorithm = algorithms.get(algorithm)
        if burst is not None and (isinstance(burst, bool) or not isinstance(burst, int) or burst < 1):
            raise RatelimitConfigError(f"burst must be an int >= 1, got {burst!r}")
        if burst is not None and self.algorithm.name != "gcra":
            raise RatelimitConfigError(f"burst applies to algorithm='gcra' only, not {self.algorithm.name!r}")
        self.burst = burst
        self.using = using
        self.fail_open = fail_open
        #: (key, rate, cost, mode) -> (settings, prepared call): the same client hits the same
        #: limit again and again, and hashing its key and parsing its rate is most of our own
        #: per-check work. Bounded; a settings change (another settings object) invalidates.
        self._prepared: dict[tuple[Any, ...], tuple[Any, _Prepared]] = {}

    def __repr__(self) -> str:
        return f"<Limiter {self.algorithm.name} using={self.alias!r}>"

    @property
    def alias(self) -> str:
        """The cache alias this limiter uses."""
        # The section's USING is already resolved (top-level USING, RATELIMIT_USE_CACHE).
        return self.using or settings().USING or conf.core().USING

    def keys(self, key: str, rate: RateSpec | tuple[Rate, ...]) -> list[str]:
        """Redis keys of ``key`` under ``rate``: one per window length, all in one hash slot.

        The window length is in the name, the limit is not: raising ``5/m`` to ``10/m``
        keeps the current counts instead of silently resetting them.
        """
        return self._keys(settings().KEY_PREFIX, digest(key), _rates(rate))

    def _keys(self, prefix: str, tag: str, rates: tuple[Rate, ...]) -> list[str]:
        return [f"{prefix}:{{{tag}}}:{self.algorithm.code}:{r.period_us}" for r in rates]

    def _call(self, key: str, rate: RateSpec | tuple[Rate, ...], cost: int, mode: str) -> _Prepared:
        conf_ = settings()
        if type(cost) is not int or type(key) is not str:
            # True == 1 and 1.0 == 1 as dict keys: such arguments must meet _prepare's checks
            return self._prepare(conf_, key, rate, cost, mode)
        memo = (key, rate, cost, mode)
        try:
            found = self._prepared.get(memo)
        except TypeError:  # an unhashable rate (a list): prepared afresh each time
            return self._prepare(conf_, key, rate, cost, mode)
        if found is not None and found[0] is conf_:
            return found[1]
        prepared = self._prepare(conf_, key, rate, cost, mode)
        if len(self._prepared) >= PREPARED_MAX:
            self._prepared.clear()
        self._prepared[memo] = (conf_, prepared)
        return prepared

    def _prepare(self, conf_: Any, key: str, rate: RateSpec | tuple[Rate, ...], cost: int, mode: str) -> _Prepared:
        if not isinstance(key, str):
            raise RatelimitConfigError(f"key must be a str, got {key!r}")
        rates = _rates(rate)
        if not rates:
            raise RatelimitConfigError(f"rate {rate!r} sets no limit; pass a rate such as '5/m'")
        if isinstance(cost, bool) or not isinstance(cost, int) or cost < 1:  # True == 1: check the type
            raise RatelimitConfigError(f"cost must be an int >= 1, got {cost!r}")
        if self.burst is not None:
            for r in rates:
                # GCRA looks burst × emission interval ahead: keep it within the longest period
                if self.burst * -(-r.period_us // r.limit) > MAX_PERIOD * 1_000_000:
                    raise RatelimitConfigError(
                        f"burst={self.burst} with rate {r} reaches further ahead than the longest period "
                        f"the scripts can run (18250 days); lower the burst"
                    )
        if cost != 1:
            for r in rates:
                if r.limit == 0:
                    continue  # refuses everything anyway
                capacity = self.algorithm.capacity(r, self.burst)
                if cost > capacity:
                    raise RatelimitConfigError(f"cost={cost} can never pass rate {r} (at most {capacity} at once)")
        tag = digest(key)
        extra = self.algorithm.extra
        args: list[int | str] = [mode, cost]
        for r in rates:
            args += [r.limit, r.period_us, extra(r, tag, burst=self.burst, stagger=conf_.FIXED_WINDOW_STAGGER)]
        return rates, self._keys(conf_.KEY_PREFIX, tag, rates), args

    def _unavailable(self, rates: tuple[Rate, ...], exc: BaseException, command: str, mode: str = "1") -> Usage:
        fail_open = settings().FAIL_OPEN if self.fail_open is None else self.fail_open
        _note_failure(self.alias, command, exc, fail_open)
        # A peek counts nothing and guards nothing by itself: it reports "not limited" (as
        # django-ratelimit's get_usage(increment=False) does); counting checks follow FAIL_OPEN.
        fail_open = fail_open or mode == "0"
        binding = min(rates, key=lambda r: r.period)
        return Usage(
            allowed=fail_open,
            limit=binding.limit,
            remaining=0,
            # Fail closed: ask clients to come back in a second rather than a whole window.
            retry_after=0.0 if fail_open else 1.0,
            reset_after=0.0,
            rates=tuple(RateUsage(r, 0, 0.0 if fail_open else 1.0, 0.0) for r in rates),
            algorithm=self.algorithm.name,
            unavailable=True,
        )

    def _refused(self, rates: tuple[Rate, ...]) -> Usage:
        """A rate of 0 ("0/m") refuses everything: answered without a round trip."""
        zero = next(r for r in rates if r.limit == 0)
        per_rate = tuple(RateUsage(r, 0, r.period if r.limit == 0 else 0.0, 0.0) for r in rates)
        return Usage(False, 0, 0, zero.period, 0.0, per_rate, self.algorithm.name)

    def _client(self, alias: str) -> Any:
        """The alias's client; None for a DummyCache alias (nothing is counted there)."""
        try:
            return connections.get_redis(alias)
        except ImproperlyConfigured as exc:
            return _cache_error(alias, exc)

    async def _aclient(self, alias: str) -> Any:
        try:
            return await connections.aget_redis(alias)
        except ImproperlyConfigured as exc:
            return _cache_error(alias, exc)

    # -- sync ---------------------------------------------------------------------------
    def _run(self, key: str, rate: RateSpec | tuple[Rate, ...], cost: int, mode: str) -> Usage:
        if instrument.LISTENERS:
            with instrument.operation("ratelimit", "check", alias=self.alias, algorithm=self.algorithm.name) as op:
                return self._decided(op, key, mode, self._run_unobserved(key, rate, cost, mode))
        return self._run_unobserved(key, rate, cost, mode)

    def _run_unobserved(self, key: str, rate: RateSpec | tuple[Rate, ...], cost: int, mode: str) -> Usage:
        rates, keys, args = self._call(key, rate, cost, mode)
        if any(r.limit == 0 for r in rates):
            return self._refused(rates)
        alias = self.alias
        try:
            client = self._client(alias)
            if client is None:
                return self._fresh(rates)
            reply = self.algorithm.script(client, keys, args)
        except UNAVAILABLE_ERRORS as exc:
            return self._unavailable(rates, exc, f"EVALSHA {self.algorithm.name}", mode)
        _note_success(alias)
        return Usage.from_reply(reply, rates, self.algorithm.name)

    def _decided(self, op: Any, key: str, mode: str, usage: Usage) -> Usage:
        """Report a decision: ``group`` is the request-level group (None for a direct Limiter call)."""
        group = key.split("\x00", 1)[0] if "\x00" in key else None
        counted = mode == "1"
        op.set(group=group, allowed=usage.allowed, remaining=usage.remaining, counted=counted)
        instrument.emit(
            "ratelimit",
            "decision",
            self.alias,
            algorithm=self.algorithm.name,
            group=group,
            allowed=usage.allowed,
            remaining=usage.remaining,
            limit=usage.limit,
            counted=counted,
            unavailable=usage.unavailable,
        )
        return usage

    def hit(self, key: str, rate: RateSpec | tuple[Rate, ...], *, cost: int = 1) -> Usage:
        """Count ``cost`` against every rate if all of them allow it (else count nothing)."""
        return self._run(key, rate, cost, "1")

    def peek(self, key: str, rate: RateSpec | tuple[Rate, ...], *, cost: int = 1) -> Usage:
        """Would a hit of ``cost`` be allowed now? Counts nothing."""
        return self._run(key, rate, cost, "0")

    def reset(self, key: str, rate: RateSpec | tuple[Rate, ...]) -> Usage:
        """Forget ``key``'s history under ``rate`` (e.g. after a successful login): one DEL."""
        rates, keys, _ = self._call(key, rate, 1, "0")
        try:
            client = self._client(self.alias)
            if client is not None:
                client.delete(*keys)  # one command: the keys share a slot
        except UNAVAILABLE_ERRORS as exc:
            return self._unavailable(rates, exc, "DEL")
        _note_success(self.alias)
        return self._fresh(rates)

    def _fresh(self, rates: tuple[Rate, ...]) -> Usage:
        per_rate = tuple(RateUsage(r, self.algorithm.capacity(r, self.burst), 0.0, 0.0) for r in rates)
        binding = min(per_rate, key=lambda r: r.remaining)
        return Usage(True, binding.rate.limit, binding.remaining, 0.0, 0.0, per_rate, self.algorithm.name)

    # -- async (redis.asyncio, no thread hop) -------------------------------------------
    async def _arun(self, key: str, rate: RateSpec | tuple[Rate, ...], cost: int, mode: str) -> Usage:
        if instrument.LISTENERS:
            with instrument.operation("ratelimit", "check", alias=self.alias, algorithm=self.algorithm.name) as op:
                return self._decided(op, key, mode, await self._arun_unobserved(key, rate, cost, mode))
        return await self._arun_unobserved(key, rate, cost, mode)

    async def _arun_unobserved(self, key: str, rate: RateSpec | tuple[Rate, ...], cost: int, mode: str) -> Usage:
        rates, keys, args = self._call(key, rate, cost, mode)
        if any(r.limit == 0 for r in rates):
            return self._refused(rates)
        alias = self.alias
        try:
            client = await self._aclient(alias)
            if client is None:
                return self._fresh(rates)
            reply = await self.algorithm.script.acall(client, keys, args)
        except UNAVAILABLE_ERRORS as exc:
            return self._unavailable(rates, exc, f"EVALSHA {self.algorithm.name}", mode)
        _note_success(alias)
        return Usage.from_reply(reply, rates, self.algorithm.name)

    async def ahit(self, key: str, rate: RateSpec | tuple[Rate, ...], *, cost: int = 1) -> Usage:
        """The async twin of :meth:`hit`, on ``redis.asyncio``."""
        return await self._arun(key, rate, cost, "1")

    async def apeek(self, key: str, rate: RateSpec | tuple[Rate, ...], *, cost: int = 1) -> Usage:
        """The async twin of :meth:`peek`, on ``redis.asyncio``."""
        return await self._arun(key, rate, cost, "0")

    async def areset(self, key: str, rate: RateSpec | tuple[Rate, ...]) -> Usage:
        """The async twin of :meth:`reset`, on ``redis.asyncio``."""
        rates, keys, _ = self._call(key, rate, 1, "0")
        try:
            client = await self._aclient(self.alias)
            if client is not None:
                await client.delete(*keys)
        except UNAVAILABLE_ERRORS as exc:
            return self._unavailable(rates, exc, "DEL")
        _note_success(self.alias)
        return self._fresh(rates)


DUMMY_CACHE = "django.core.cache.backends.dummy.DummyCache"


def _cache_error(alias: str, exc: ImproperlyConfigured) -> None:
    """Why the alias gave no client: None for a DummyCache alias, else raise.

    A missing or non-Redis alias raises :class:`RatelimitCacheError`, which is also Django's
    ``InvalidCacheBackendError`` (what django-ratelimit raises for a missing alias). A
    DummyCache alias stores nothing, so, as with django-ratelimit, nothing is counted and no
    request is limited; the system checks say so at startup (W022 for ``RATELIMIT_USE_CACHE``, E002 for ``USING``).
    """
    from django.conf import settings as django_settings

    caches = getattr(django_settings, "CACHES", {}) or {}
    if alias not in caches:
        known = ", ".join(sorted(caches)) or "none"
        raise RatelimitCacheError(
            f"the rate limiter's cache alias {alias!r} is not in CACHES (known aliases: {known}); "
            'set REDIS_PATTERNS["RATELIMIT"]["USING"] to a Redis alias'
        ) from exc
    backend = caches[alias].get("BACKEND", "")
    if backend == DUMMY_CACHE:
        return None
    if not connections.dialect_of(backend):
        raise RatelimitCacheError(f"the rate limiter needs a Redis cache alias: {exc}") from exc
    raise exc


# ---------------------------------------------------------------------------------------
# Request-level API with django-ratelimit's signatures (django_ratelimit.core)
# ---------------------------------------------------------------------------------------

#: Sentinel for "every HTTP method" (the same value as django-ratelimit's, so theirs works too).
ALL = (None,)
UNSAFE = ["DELETE", "PATCH", "POST", "PUT"]


def method_matches(request: Any, method: Any) -> bool:
    """Whether ``request.method`` is one that ``method`` (``ALL``, a name or a list) limits."""
    if method == ALL or method is None:
        return True
    methods = [method] if isinstance(method, str) else list(method)
    return request.method in [m.upper() for m in methods]


def _group_of(group: str | None, fn: Any) -> str:
    if group is not None:
        return group
    if fn is None:
        raise RatelimitConfigError("get_usage needs group= or fn= to name the limit")
    return f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', getattr(fn, '__name__', repr(fn)))}"


_limiters: dict[tuple[Any, ...], Limiter] = {}


def limiter_for(algorithm: str | None, using: str | None = None, burst: int | None = None) -> Limiter:
    """A shared Limiter per (algorithm, alias, burst); the ALGORITHM setting is read per call."""
    key = (algorithm or settings().ALGORITHM, using, burst)
    found = _limiters.get(key)
    if found is None:
        found = _limiters[key] = Limiter(key[0], using=using, burst=burst)
    return found


def prepare(
    request: Any, group: str | None, fn: Any, key: Any, rate: Any, method: Any
) -> tuple[str, tuple[Rate, ...]] | None:
    """(bucket identity, rates) for a request, or None when no limit applies to it."""
    if not settings().ENABLE or not method_matches(request, method):
        return None
    group = _group_of(group, fn)
    if key is None:
        raise RatelimitConfigError(f"ratelimit group {group!r}: key= is required (e.g. key='ip')")
    rates = resolve(rate, group, request)
    if not rates:
        return None
    value = key_function(key)(group, request)
    if value is None:
        return None
    identity = f"{group}\x00{value}"
    if not (method == ALL or method is None):
        # Limits on different methods of one group count separately (django-ratelimit does too).
        methods = [method] if isinstance(method, str) else list(method)
        identity += "\x00" + ",".join(sorted(m.upper() for m in methods))
    return identity, rates


def attach(request: Any, usage: Usage) -> None:
    """Record usage on the request: ``request.ratelimit`` is the most restrictive one seen."""
    usages = getattr(request, "ratelimit_usages", None)
    if usages is None:
        usages = []
        try:
            request.ratelimit_usages = usages
        except AttributeError:
            return
    usages.append(usage)
    current = getattr(request, "ratelimit", None)
    if current is None or (usage.allowed, usage.remaining) < (current.allowed, current.remaining):
        request.ratelimit = usage


def get_usage(
    request: Any,
    group: str | None = None,
    fn: Any = None,
    key: Any = None,
    rate: Any = None,
    method: Any = ALL,
    increment: bool = False,
    *,
    algorithm: str | None = None,
    cost: int = 1,
    burst: int | None = None,
    using: str | None = None,
) -> Usage | None:
    """django-ratelimit's ``get_usage``: None when no limit applies, else a :class:`Usage`.

    ``increment=False`` peeks: ``should_limit`` then says whether a hit now would be refused
    (django-ratelimit's peek only says so once the count is already over the limit, #76).
    """
    prepared = prepare(request, group, fn, key, rate, method)
    if prepared is None:
        return None
    identity, rates = prepared
    limiter = limiter_for(algorithm, using, burst)
    usage = limiter.hit(identity, rates, cost=cost) if increment else limiter.peek(identity, rates, cost=cost)
    attach(request, usage)
    return usage


async def aget_usage(
    request: Any,
    group: str | None = None,
    fn: Any = None,
    key: Any = None,
    rate: Any = None,
    method: Any = ALL,
    increment: bool = False,
    *,
    algorithm: str | None = None,
    cost: int = 1,
    burst: int | None = None,
    using: str | None = None,
) -> Usage | None:
    """:func:`get_usage` for async code, on ``redis.asyncio``."""
    prepared = prepare(request, group, fn, key, rate, method)
    if prepared is None:
        return None
    identity, rates = prepared
    limiter = limiter_for(algorithm, using, burst)
    if increment:
        usage = await limiter.ahit(identity, rates, cost=cost)
    else:
        usage = await limiter.apeek(identity, rates, cost=cost)
    attach(request, usage)
    return usage


def is_ratelimited(
    request: Any,
    group: str | None = None,
    fn: Any = None,
    key: Any = None,
    rate: Any = None,
    method: Any = ALL,
    increment: bool = False,
    **options: Any,
) -> bool:
    """django-ratelimit's ``is_ratelimited``: True when the request is (or would be) over a limit."""
    usage = get_usage(request, group, fn, key, rate, method, increment, **options)
    return usage is not None and usage.should_limit


async def ais_ratelimited(
    request: Any,
    group: str | None = None,
    fn: Any = None,
    key: Any = None,
    rate: Any = None,
    method: Any = ALL,
    increment: bool = False,
    **options: Any,
) -> bool:
    """The async twin of :func:`is_ratelimited`, on ``redis.asyncio``."""
    usage = await aget_usage(request, group, fn, key, rate, method, increment, **options)
    return usage is not None and usage.should_limit


# django-ratelimit exposes these on the functions too: ``get_usage.ALL``, ``is_ratelimited.UNSAFE``.
for _function in (get_usage, aget_usage, is_ratelimited, ais_ratelimited):
    setattr(_function, "ALL", ALL)  # noqa: B010 (functions have no such attribute for mypy)
    setattr(_function, "UNSAFE", UNSAFE)  # noqa: B010
