"""A circuit breaker per cache alias and process: once Redis is silent or refuses, fail at once.

Why: a hung server (a stopped process, a black-holed host) makes every command wait its whole
socket timeout. A request that reads its session, checks a rate limit and reads the cache
would wait three timeouts, and every thread of every worker would pile up behind them. After
one call has shown that the server does not answer, the next ones learn nothing new by
waiting again.

States (one :class:`Breaker` per alias and server role, shared by the sync client and by the
asyncio clients of every event loop of the process; thread-safe):

closed
    Calls go through. A call that ends in ``ConnectionError`` or ``TimeoutError`` after the
    client's own retry (see :func:`verdict`) opens the circuit.
open
    For ``cooldown`` seconds every call raises :class:`CircuitOpen` at once (a
    ``redis.ConnectionError``, so each pattern's documented outage behaviour applies unchanged).
half-open
    After the cool-down exactly one caller runs its call as the probe; the others keep
    failing fast until it answers. Any answer from the server (a reply, even an error reply)
    closes the circuit; a timeout or a refused connection opens it for another cool-down.

Error replies (WRONGTYPE, NOSCRIPT, MOVED, CLUSTERDOWN, READONLY...) prove the server is
there and never open the circuit; nor does the ``ConnectionError`` redis-py's Sentinel
connection raises when a demoted primary answers READONLY (it means "reconnect to the new
primary", which its retry does).

The hot path of a closed circuit is one attribute check (``breaker.open``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from redis.exceptions import (
    AuthenticationError,
    ConnectionError,
    MaxConnectionsError,
    ResponseError,
    TimeoutError,
)

from ..exceptions import ImproperlyConfigured

__all__ = ["DEFAULT_COOLDOWN", "OFF", "Breaker", "CircuitOpen", "cooldown_seconds", "verdict"]

logger = logging.getLogger("django_redis_patterns.client")

#: Seconds a circuit stays open before one call probes the server again.
DEFAULT_COOLDOWN = 2.0
# A probe that never reports (its thread died, a generator was abandoned) must not keep the
# circuit half-open forever: after this long another caller may probe.
PROBE_LEASE = 60.0


class CircuitOpen(ConnectionError):
    """Raised at once, without I/O, while an alias's circuit is open.

    A ``redis.ConnectionError``: code that handles Redis being unreachable handles this too.
    ``alias`` names the alias, ``seconds_left`` the time until the next probe.
    """

    def __init__(self, alias: str, seconds_left: float, cause: str, probing: bool) -> None:
        self.alias = alias
        self.seconds_left = seconds_left
        when = "a probe call is under way" if probing else f"the next call in {seconds_left:.2f} s probes it"
        super().__init__(
            f"Redis alias {alias} is failing fast (circuit breaker open) after {cause}; {when} "
            "(OPTIONS['CIRCUIT_BREAKER_COOLDOWN'])"
        )


Verdict = Literal["down", "up", "unknown"]


def verdict(exc: BaseException) -> Verdict:
    """What a call's exception says about the server: ``down`` opens the circuit.

    ``up``: the server answered (an error reply, a failed AUTH, a demoted Sentinel primary's
    READONLY turned into a ConnectionError by redis-py). ``unknown``: says nothing about the
    server (this process's pool is full, a circuit already open, a cancelled task...).
    """
    if isinstance(exc, ResponseError | AuthenticationError):
        return "up"
    if isinstance(exc, CircuitOpen | MaxConnectionsError):
        return "unknown"
    if isinstance(exc, ConnectionError | TimeoutError):
        # redis-py's Sentinel connection raises ConnectionError("The previous master is now a
        # slave") from within its handler of the ReadOnlyError reply: a failover in progress.
        if isinstance(exc.__context__, ResponseError):
            return "up"
        return "down"
    return "unknown"


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Breaker:
    """The circuit of one alias in this process (see the module docstring)."""

    __slots__ = ("_cause", "_lock", "_opened_at", "_probe_at", "_probing_since", "cooldown", "label", "open")

    def __init__(self, label: str, cooldown: float) -> None:
        #: The one attribute the hot path reads: True while open or half-open.
        self.open = False
        self.label = label
        self.cooldown = cooldown
        self._lock = threading.Lock()
        self._probe_at = 0.0
        self._probing_since: float | None = None
        self._opened_at = 0.0
        self._cause = ""

    def __repr__(self) -> str:
        state = "closed" if not self.open else ("half-open" if self._probing_since is not None else "open")
        return f"<Breaker {self.label} {state} cooldown={self.cooldown}>"

    @property
    def enabled(self) -> bool:
        return self.cooldown > 0

    # -- the three transitions -----------------------------------------------------------

    def admit(self) -> bool:
        """Called while open: True for the one caller that may probe now, False when the
        circuit closed meanwhile; raises :class:`CircuitOpen` for everybody else."""
        now = time.monotonic()
        with self._lock:
            if not self.open:
                return False
            probing = self._probing_since is not None and now - self._probing_since < PROBE_LEASE
            if now >= self._probe_at and not probing:
                self._probing_since = now
                return True
            left = max(0.0, self._probe_at - now)
            cause = self._cause
        raise CircuitOpen(self.label, left, cause, probing)

    def failed(self, exc: BaseException, probe: bool) -> None:
        """A call ended in ``exc``: open the circuit when it says the server is down."""
        seen = verdict(exc)
        if seen == "up":
            if probe:
                self.succeeded()
            return
        if seen == "unknown" or not self.enabled:
            if probe:
                self.released()
            return
        now = time.monotonic()
        with self._lock:
            if self.open and not probe:
                # A call that started before the circuit opened: the probe decides.
                return
            opening = not self.open
            self.open = True
            self._probe_at = now + self.cooldown
            self._probing_since = None
            if opening:
                self._opened_at = now
            self._cause = _describe(exc)
        if opening:
            self._report("open")
            # INFO, not WARNING: the pattern whose call failed logs the incident itself (once);
            # a second warning would only repeat it -- and on a management command's stderr,
            # where Python prints unhandled warnings, add a line to its one-line error.
            logger.info(
                "Redis alias %s did not answer (%s): calls fail fast for %.1f s, then one call probes it",
                self.label,
                self._cause,
                self.cooldown,
            )

    def succeeded(self) -> None:
        """The server answered a probe: close the circuit."""
        with self._lock:
            was_open = self.open
            self.open = False
            self._probing_since = None
            down_for = time.monotonic() - self._opened_at
        if was_open:
            self._report("closed")
            logger.info("Redis alias %s answers again: circuit closed after %.1f s", self.label, down_for)

    def _report(self, state: str) -> None:
        from . import instrument  # breaker is imported by the instrumentation's importers

        if instrument.LISTENERS:
            alias = self.label.split(",", 1)[0].strip().strip("'")  # the label is "'a', 'b'"
            instrument.emit("client", "breaker", alias, state=state, label=self.label)

    def released(self) -> None:
        """The probe ended without an answer either way (cancelled...): the next caller probes."""
        with self._lock:
            self._probing_since = None

    # -- wrapping a call -----------------------------------------------------------------

    def call(self, function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run ``function(*args, **kwargs)`` through the circuit."""
        probe = self.open and self.admit()
        try:
            result = function(*args, **kwargs)
        except BaseException as exc:
            if probe or isinstance(exc, ConnectionError | TimeoutError):
                self.failed(exc, probe)
            raise
        if probe:
            self.succeeded()
        return result

    async def acall(
        self, function: Callable[..., Awaitable[Any]], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """:meth:`call` for a coroutine function (a cancelled probe lets the next caller probe)."""
        probe = self.open and self.admit()
        try:
            result = await function(*args, **kwargs)
        except BaseException as exc:
            if probe or isinstance(exc, ConnectionError | TimeoutError):
                self.failed(exc, probe)
            raise
        if probe:
            self.succeeded()
        return result


#: The breaker of clients that have none (fakeredis, the per-node clients inside a Cluster
#: client, clients built outside the connection layer): never opens.
OFF = Breaker("<off>", 0.0)


def cooldown_seconds(value: Any, where: str) -> float:
    """A validated cool-down (seconds >= 0; 0 turns the breaker off), or a clear error."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ImproperlyConfigured(
            f"{where} must be a number of seconds >= 0 (0 turns the circuit breaker off), got {value!r}"
        )
    return float(value)


# -- attaching a breaker to redis-py clients ---------------------------------------------


def guard_pipeline(pipe: Any, breaker: Breaker) -> Any:
    """Route a sync pipeline's ``execute()`` through ``breaker``."""
    execute = pipe.execute

    def guarded_execute(*args: Any, **kwargs: Any) -> Any:
        return breaker.call(execute, args, kwargs)

    pipe.execute = guarded_execute
    return pipe


def aguard_pipeline(pipe: Any, breaker: Breaker) -> Any:
    """Route an asyncio pipeline's ``execute()`` through ``breaker``."""
    execute = pipe.execute

    async def guarded_execute(*args: Any, **kwargs: Any) -> Any:
        return await breaker.acall(execute, args, kwargs)

    pipe.execute = guarded_execute
    return pipe


def attach(client: Any, breaker: Breaker, *, asyncio: bool) -> None:
    """Make every command and pipeline of ``client`` go through ``breaker``.

    A lean single-node client checks its ``_breaker`` itself on its lean path (one attribute
    read); any other client (plain redis-py, the Cluster clients) gets its ``execute_command``
    wrapped on the instance. Pipelines of both get their ``execute()`` wrapped. Pub/sub and
    ``WATCH`` in a pipeline's immediate mode are not guarded. The wrappers hold the client
    weakly (as its class's functions, not its bound methods), so a dropped client is freed at
    once rather than by the cycle collector, and closes its connections then.
    """
    cls = type(client)
    ref = weakref.ref(client)
    if asyncio:

        def apipeline(*args: Any, **kwargs: Any) -> Any:
            return aguard_pipeline(cls.pipeline(ref(), *args, **kwargs), breaker)

        client.pipeline = apipeline
    else:

        def spipeline(*args: Any, **kwargs: Any) -> Any:
            return guard_pipeline(cls.pipeline(ref(), *args, **kwargs), breaker)

        client.pipeline = spipeline
    if getattr(cls, "_breaker_inline", False):
        client._breaker = breaker
        return
    if asyncio:

        async def aexecute(*args: Any, **options: Any) -> Any:
            return await breaker.acall(cls.execute_command, (ref(), *args), options)

        client.execute_command = aexecute
    else:

        def sexecute(*args: Any, **options: Any) -> Any:
            return breaker.call(cls.execute_command, (ref(), *args), options)

        client.execute_command = sexecute
