"""The one instrumentation point: every Redis command, pipeline and pattern operation.

Every client the connection layer builds (lean or plain redis-py, sync or asyncio, single
node, Sentinel or Cluster) is attached here (:func:`attach`). While a listener is registered,
its ``execute_command`` and ``pipeline`` are routed through this module: each command (or
pipeline) is timed and handed to the listeners as a :class:`CommandEvent` after it returns or
fails. With no listener the hooks are off the clients altogether, and what is left is one
falsy check of :data:`LISTENERS` where a pattern would report a decision.

On top of that the patterns report what they decided, as :class:`PatternEvent`: a cache hit or
miss, a rate-limit decision, a lock acquired or lost, a board read... (the catalogue is in
docs/observability.md). And a pattern operation (a lock acquire, a rate-limit check, a board
page) is an :func:`operation`: the commands sent inside it carry its pattern and name, and
listeners may open something around it (the OpenTelemetry listener opens the parent span).

A listener subclasses :class:`Listener` and overrides what it needs::

    class Printer(Listener):
        def command(self, event):
            print(event.alias, event.command, event.duration)

    add_listener(Printer())

Listeners are called in the thread (or task) that sent the command. An exception in a
listener is logged and never reaches the code that sent the command.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

__all__ = [
    "LISTENERS",
    "CommandEvent",
    "Listener",
    "Operation",
    "PatternEvent",
    "OPERATION_LISTENERS",
    "CURRENT",
    "add_listener",
    "arun_as",
    "attributed",
    "attach",
    "current_operation",
    "deliver",
    "detach",
    "emit",
    "listening",
    "operation",
    "remove_listener",
    "run_as",
]

logger = logging.getLogger("django_redis_patterns.instrument")

#: The registered listeners. The hot path reads it as ``if LISTENERS:``; it is only ever
#: mutated in place (never rebound), so modules may import the name itself.
LISTENERS: list[Listener] = []
#: The listeners that do something around operations (override operation_started/ended).
OPERATION_LISTENERS: list[Listener] = []
#: LISTENERS as a tuple, iterated by the delivery loops (a listener added or removed meanwhile
#: by another thread changes the next delivery, never breaks this one).
_snapshot: tuple[Listener, ...] = ()

#: Keys longer than this are cut in events (a key may be a whole serialized value's digest).
KEY_CHARS = 120


class Listener:
    """Receives what the instrumentation point sees; override the methods you need."""

    def command(self, event: CommandEvent) -> None:
        """A command or pipeline finished (``event.error`` is set if it raised)."""

    def event(self, event: PatternEvent) -> None:
        """A pattern reported a decision or a state change."""

    def operation_started(self, op: Operation) -> Any:
        """A pattern operation begins; what this returns is given back to :meth:`operation_ended`."""
        return None

    def operation_ended(self, op: Operation, token: Any, error: BaseException | None) -> None:
        """The operation ``op`` (started with ``token``) is over."""


class CommandEvent:
    """One Redis round trip: a single command or a whole pipeline.

    ``key`` and ``node`` are worked out on first access: a listener that only counts
    (Prometheus) never pays for them.
    """

    _key: str | None  # worked out on first access (key, node)
    _node: str

    __slots__ = (
        "_args",
        "_client",
        "_info",
        "_key",
        "_node",
        "alias",
        "command",
        "commands",
        "end_ns",
        "error",
        "is_async",
        "operation",
        "pattern",
        "start_ns",
    )

    def __init__(
        self,
        info: _ClientInfo,
        client: Any,
        args: tuple[Any, ...],
        commands: tuple[str, ...] | None,
        start_ns: int,
        error: BaseException | None,
        is_async: bool,
    ) -> None:
        self.end_ns = time.time_ns()
        op = _current.get()
        self._info = info
        self._client = client
        self._args = args
        self.alias = op.alias if op is not None else info.alias
        #: The command's name in upper case; ``PIPELINE`` or ``MULTI`` for a pipeline.
        name = args[0] if args else ""
        self.command: str = name if name.__class__ is str and name.isupper() else _text(name).upper()
        #: A pipeline's command names, in order; None for a single command.
        self.commands = commands
        #: The pattern operation the command ran in (``"cache"``, ``"ratelimit"``...), if any.
        self.pattern = op.pattern if op is not None else None
        self.operation = op.name if op is not None else None
        #: Wall-clock nanoseconds (``time.time_ns()``) when sending began and when it ended.
        self.start_ns = start_ns
        self.error = error
        self.is_async = is_async

    @property
    def key(self) -> str | None:
        """The first key (truncated to :data:`KEY_CHARS`), None for a keyless command."""
        try:
            return self._key
        except AttributeError:  # not worked out yet
            pass
        if self.commands is None:
            self._key = _name_and_key(self._args)[1]
        else:
            self._key = self._args[1] if len(self._args) > 1 else None
        return self._key

    @property
    def node(self) -> str:
        """``host:port`` of the server (Cluster: the key's slot owner), ``unix:<path>`` or
        ``sentinel:<service>``."""
        try:
            return self._node
        except AttributeError:  # not worked out yet
            pass
        raw = _raw_key(self._args) if self.commands is None else None
        self._node = self._info.node_for(self._client, raw)
        return self._node

    @property
    def db(self) -> int | None:
        return self._info.db

    @property
    def duration(self) -> float:
        """Seconds."""
        return (self.end_ns - self.start_ns) / 1e9

    def __repr__(self) -> str:
        return f"<CommandEvent {self.alias} {self.command} {self.key!r} {self.pattern}.{self.operation}>"


class PatternEvent:
    """A pattern's decision or state change (``pattern``, ``name``, ``alias``, ``data``).

    Read-only for listeners: a hot path may deliver the same event object many times
    (:func:`deliver`).
    """

    __slots__ = ("alias", "data", "kind", "name", "pattern")

    def __init__(self, pattern: str, name: str, alias: str, data: dict[str, Any]) -> None:
        self.pattern = pattern
        self.name = name
        #: ``(pattern, name)``, for listeners that dispatch on it.
        self.kind = (pattern, name)
        self.alias = alias
        self.data = data

    def __repr__(self) -> str:
        return f"<PatternEvent {self.pattern}.{self.name} {self.alias} {self.data!r}>"


_current: contextvars.ContextVar[Operation | None] = contextvars.ContextVar("drp_operation", default=None)
#: The innermost operation of this thread or task; set it around a call (``token = CURRENT.set(op)``
#: ... ``CURRENT.reset(token)``) to attribute the call's commands to ``op`` (what :func:`run_as` does).
CURRENT = _current


def current_operation() -> Operation | None:
    """The innermost pattern operation of this thread or task (None outside any, or with no listener)."""
    return _current.get()


class Operation:
    """A pattern operation in progress: use :func:`operation` to make one."""

    __slots__ = ("_reset", "_tokens", "alias", "attrs", "end_ns", "name", "pattern", "start_ns")

    def __init__(self, pattern: str, name: str, alias: str, attrs: dict[str, Any]) -> None:
        self.pattern = pattern
        self.name = name
        self.alias = alias
        #: Extra attributes (span attributes for OpenTelemetry); code inside may add more with :meth:`set`.
        self.attrs = attrs
        self._tokens: list[tuple[Listener, Any]] | None = None
        self._reset: contextvars.Token[Operation | None] | None = None
        #: Wall-clock nanoseconds at entry and exit; measured only for listeners of operations.
        self.start_ns = 0
        self.end_ns = 0

    def set(self, **attrs: Any) -> None:
        self.attrs.update(attrs)

    def __enter__(self) -> Operation:
        if OPERATION_LISTENERS:
            self.start_ns = time.time_ns()
            self._tokens = []
            for listener in list(OPERATION_LISTENERS):
                try:
                    self._tokens.append((listener, listener.operation_started(self)))
                except Exception:
                    logger.exception("instrumentation listener %r failed in operation_started", listener)
        self._reset = _current.set(self)
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        try:
            _current.reset(self._reset)  # type: ignore[arg-type]
        except ValueError:  # exited in another context than it was entered in
            _current.set(None)
        if self._tokens is not None:
            self.end_ns = time.time_ns()
            for listener, token in reversed(self._tokens):
                try:
                    listener.operation_ended(self, token, exc)
                except Exception:
                    logger.exception("instrumentation listener %r failed in operation_ended", listener)

    async def __aenter__(self) -> Operation:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)

    def __repr__(self) -> str:
        return f"<Operation {self.pattern}.{self.name} {self.alias}>"


class _NoOperation:
    """What :func:`operation` returns while nothing listens: enters and exits for free."""

    __slots__ = ()
    attrs: dict[str, Any] = {}

    def set(self, **attrs: Any) -> None:
        pass

    def __enter__(self) -> _NoOperation:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    async def __aenter__(self) -> _NoOperation:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        pass


NO_OPERATION = _NoOperation()


def attributed(pattern: str, name: str, alias: str) -> Operation:
    """A shared operation for :func:`run_as`: the same object for every call with these names."""
    key = (pattern, name, alias)
    op = _attributed.get(key)
    if op is None:
        op = _attributed[key] = Operation(pattern, name, alias, {})
    return op


_attributed: dict[tuple[str, str, str], Operation] = {}


def run_as(op: Operation, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` with its commands attributed to ``op`` (no start or end reported).

    For a hot path while no listener watches operations (``OPERATION_LISTENERS`` empty; with
    one, use :func:`operation`): no object per call, and ``op`` may be shared.
    """
    token = _current.set(op)
    try:
        return fn(*args, **kwargs)
    finally:
        _current.reset(token)


async def arun_as(op: Operation, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """:func:`run_as` for a coroutine function."""
    token = _current.set(op)
    try:
        return await fn(*args, **kwargs)
    finally:
        _current.reset(token)


def operation(pattern: str, name: str, /, *, alias: str, **attrs: Any) -> Operation | _NoOperation:
    """A context manager (``with`` or ``async with``) around one pattern operation."""
    if not LISTENERS:
        return NO_OPERATION
    return Operation(pattern, name, alias, attrs)


def emit(pattern: str, name: str, alias: str, /, **data: Any) -> None:
    """Report a pattern event to every listener (callers check ``if LISTENERS:`` first)."""
    deliver(PatternEvent(pattern, name, alias, data))


def deliver(event: PatternEvent) -> None:
    """Report a prepared (possibly shared, never changed) event to every listener."""
    for listener in _snapshot:
        try:
            listener.event(event)
        except Exception:
            logger.exception("instrumentation listener %r failed on %r", listener, event)


def add_listener(listener: Listener) -> None:
    """Register ``listener`` (a second registration of the same object is ignored)."""
    if not isinstance(listener, Listener):
        raise TypeError(f"listener must be a django_redis_patterns.client.instrument.Listener, got {listener!r}")
    with _registry_lock:
        if listener in LISTENERS:
            return
        first = not LISTENERS
        cls = type(listener)
        if (
            cls.operation_started is not Listener.operation_started
            or cls.operation_ended is not Listener.operation_ended
        ):
            OPERATION_LISTENERS.append(listener)
        LISTENERS.append(listener)
        _update_snapshot()
        if first:
            _switch_hooks(True)


def _update_snapshot() -> None:
    global _snapshot
    _snapshot = tuple(LISTENERS)


def remove_listener(listener: Listener) -> None:
    """Unregister ``listener`` (no error if it was not registered)."""
    with _registry_lock:
        for registry in (LISTENERS, OPERATION_LISTENERS):
            try:
                registry.remove(listener)
            except ValueError:
                pass
        _update_snapshot()
        if not LISTENERS:
            _switch_hooks(False)


class listening:
    """``with listening(listener):`` registers ``listener`` for the block (tests, one-off traces)."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener

    def __enter__(self) -> Listener:
        add_listener(self.listener)
        return self.listener

    def __exit__(self, *exc: Any) -> None:
        remove_listener(self.listener)


# ---------------------------------------------------------------------------------------
# Wiring into clients (called by the connection layer for every client it builds)
# ---------------------------------------------------------------------------------------

_SCRIPT_COMMANDS = frozenset({"EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"})
_KEYLESS = frozenset({"PING", "TIME", "INFO", "SCAN", "SCRIPT", "FLUSHDB", "FLUSHALL", "DBSIZE", "CLIENT", "CONFIG"})


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _name_and_key(args: tuple[Any, ...]) -> tuple[str, str | None]:
    if not args:
        return "", None
    name = _text(args[0]).upper()
    first = name.split(" ", 1)[0]
    key: Any = None
    if first in _SCRIPT_COMMANDS:
        if len(args) > 3 and str(args[2]) != "0":
            key = args[3]
    elif first not in _KEYLESS and " " not in name and len(args) > 1:
        key = args[1]
    if key is None:
        return name, None
    text = _text(key)
    return name, text if len(text) <= KEY_CHARS else text[: KEY_CHARS - 1] + "…"


class _ClientInfo:
    """What an event says about the client: its alias (found lazily) and its server."""

    __slots__ = ("__weakref__", "_alias", "_alias_of", "cluster", "db", "node")

    def __init__(self, client: Any, alias_of: Callable[[], str]) -> None:
        self._alias: str | None = None
        self._alias_of = alias_of
        self.cluster = hasattr(client, "nodes_manager")
        self.db: int | None = None
        self.node = "cluster"
        if not self.cluster:
            pool = getattr(client, "connection_pool", None)
            kw = getattr(pool, "connection_kwargs", None) or {}
            self.db = kw.get("db")
            service = getattr(pool, "service_name", None)
            if service is not None:
                self.node = f"sentinel:{service}"
            elif kw.get("path"):
                self.node = f"unix:{kw['path']}"
            else:
                self.node = f"{kw.get('host', 'localhost')}:{kw.get('port', 6379)}"

    @property
    def alias(self) -> str:
        if self._alias is None:
            try:
                self._alias = self._alias_of()
            except Exception:  # settings changed under us: a label is still better than no event
                self._alias = "?"
        return self._alias

    def node_for(self, client: Any, raw_key: Any) -> str:
        if not self.cluster or raw_key is None:
            return self.node
        try:
            from redis.crc import key_slot

            encoded = raw_key if isinstance(raw_key, bytes) else str(raw_key).encode()
            node = client.nodes_manager.get_node_from_slot(key_slot(encoded))
            return f"{node.host}:{node.port}"
        except Exception:
            return self.node


def _raw_key(args: tuple[Any, ...]) -> Any:
    if len(args) < 2:
        return None
    name = _text(args[0]).upper()
    if name in _SCRIPT_COMMANDS:
        return args[3] if len(args) > 3 and str(args[2]) != "0" else None
    return None if name in _KEYLESS else args[1]


def _deliver(event: CommandEvent) -> None:
    for listener in _snapshot:
        try:
            listener.command(event)
        except Exception:
            logger.exception("instrumentation listener %r failed on %r", listener, event)


def _queued(pipe: Any) -> Any:
    strategy = getattr(pipe, "_execution_strategy", None)  # ClusterPipeline (redis-py >= 6)
    if strategy is not None:
        queue = getattr(strategy, "command_queue", None)
        return queue if queue is not None else getattr(strategy, "_command_queue", None) or ()
    stack = getattr(pipe, "command_stack", None)  # Pipeline (sync and asyncio)
    if stack is None:
        stack = getattr(pipe, "_command_stack", None)  # asyncio ClusterPipeline
    return stack or ()


def _pipeline_commands(pipe: Any) -> tuple[str, ...]:
    """The queued commands' names, read before ``execute()`` empties the queue."""
    names = []
    for item in _queued(pipe):
        args = item[0] if isinstance(item, tuple) else getattr(item, "args", ())
        names.append(_text(args[0]).upper() if args else "?")
    return tuple(names)


def _is_transaction(pipe: Any) -> bool:
    flag = getattr(pipe, "_transaction", None)  # asyncio ClusterPipeline
    if flag is None:
        flag = getattr(pipe, "transaction", None)  # Pipeline (a method on a sync ClusterPipeline)
    if flag is True:
        return True
    strategy = getattr(pipe, "_execution_strategy", None)  # sync ClusterPipeline
    return type(strategy).__name__ == "TransactionStrategy"


def _first_key(pipe: Any) -> str | None:
    for item in _queued(pipe):
        args = item[0] if isinstance(item, tuple) else getattr(item, "args", ())
        key = _name_and_key(tuple(args))[1]
        if key is not None:
            return key
    return None


def _watch_pipeline(pipe: Any, info: _ClientInfo, client_ref: Any, is_async: bool) -> Any:
    execute = pipe.execute  # the class's, or the breaker's guard
    pipe_ref = weakref.ref(pipe)

    def describe() -> tuple[tuple[Any, ...], tuple[str, ...]]:
        p = pipe_ref()
        names = _pipeline_commands(p)
        head = "MULTI" if _is_transaction(p) else "PIPELINE"
        return (head, _first_key(p)), names

    if is_async:

        async def aexecute(*args: Any, **kwargs: Any) -> Any:
            if not LISTENERS:
                return await execute(*args, **kwargs)
            head, names = describe()
            start = time.time_ns()
            try:
                result = await execute(*args, **kwargs)
            except BaseException as exc:
                _deliver(CommandEvent(info, client_ref(), head, names, start, exc, True))
                raise
            _deliver(CommandEvent(info, client_ref(), head, names, start, None, True))
            return result

        pipe.execute = aexecute
    else:

        def sexecute(*args: Any, **kwargs: Any) -> Any:
            if not LISTENERS:
                return execute(*args, **kwargs)
            head, names = describe()
            start = time.time_ns()
            try:
                result = execute(*args, **kwargs)
            except BaseException as exc:
                _deliver(CommandEvent(info, client_ref(), head, names, start, exc, False))
                raise
            _deliver(CommandEvent(info, client_ref(), head, names, start, None, False))
            return result

        pipe.execute = sexecute
    return pipe


class _Hooks:
    """A client's instrumentation hooks, and what they wrap (the breaker's, or None: the class's)."""

    __slots__ = ("__weakref__", "execute", "inner_execute", "inner_pipeline", "pipeline")

    def __init__(self, execute: Any, inner_execute: Any, pipeline: Any, inner_pipeline: Any) -> None:
        self.execute = execute
        self.inner_execute = inner_execute
        self.pipeline = pipeline
        self.inner_pipeline = inner_pipeline

    def put_on(self, client: Any) -> None:
        client.execute_command = self.execute
        client.pipeline = self.pipeline

    def take_off(self, client: Any) -> None:
        for name, inner in (("execute_command", self.inner_execute), ("pipeline", self.inner_pipeline)):
            if inner is not None:
                setattr(client, name, inner)
            else:
                client.__dict__.pop(name, None)


#: Every attached client, by its hooks (the client is held weakly: a dropped client goes).
_hooked: weakref.WeakValueDictionary[_Hooks, Any] = weakref.WeakValueDictionary()
_hooks_lock = threading.Lock()
_registry_lock = threading.Lock()


def detach(client: Any) -> None:
    """Take ``client`` out of the instrumentation point for good (benchmarks of the bare client)."""
    with _hooks_lock:
        for hooks, attached in list(_hooked.items()):
            if attached is client:
                hooks.take_off(client)
                del _hooked[hooks]


def _switch_hooks(on: bool) -> None:
    with _hooks_lock:
        for hooks, client in list(_hooked.items()):
            if on:
                hooks.put_on(client)
            else:
                hooks.take_off(client)


def attach(client: Any, alias_of: Callable[[], str], *, is_async: bool) -> None:
    """Route ``client``'s commands and pipelines through the instrumentation point.

    ``alias_of()`` names the cache alias(es) of the client, asked once, on the first event
    (the client is built before anyone needs its name). Call after the circuit breaker is
    attached: an instance-level ``execute_command``/``pipeline`` already there is wrapped.
    Like the breaker's wrappers, these hold the client weakly.

    The hooks are on the client only while some listener is registered (:func:`add_listener`
    puts them on every attached client, removing the last listener takes them off): with
    nothing listening a command runs exactly the code it runs without this module.
    """
    cls = type(client)
    ref = weakref.ref(client)
    info = _ClientInfo(client, alias_of)
    inner = client.__dict__.get("execute_command")
    inner_pipeline = client.__dict__.get("pipeline")

    if is_async:
        if inner is None:

            async def aexecute(*args: Any, **options: Any) -> Any:
                if LISTENERS:
                    return await _aobserve(info, ref(), cls.execute_command, (ref(), *args), args, options)
                return await cls.execute_command(ref(), *args, **options)

        else:

            async def aexecute(*args: Any, **options: Any) -> Any:
                if LISTENERS:
                    return await _aobserve(info, ref(), inner, args, args, options)
                return await inner(*args, **options)

        execute: Any = aexecute
    else:
        call = inner

        def sexecute(*args: Any, **options: Any) -> Any:
            client = ref()
            if not LISTENERS:  # taken off meanwhile
                return call(*args, **options) if call is not None else cls.execute_command(client, *args, **options)
            start = time.time_ns()
            try:
                result = call(*args, **options) if call is not None else cls.execute_command(client, *args, **options)
            except BaseException as exc:
                _deliver(CommandEvent(info, client, args, None, start, exc, False))
                raise
            event = CommandEvent(info, client, args, None, start, None, False)
            for listener in _snapshot:  # _deliver, written out: this runs for every command
                try:
                    listener.command(event)
                except Exception:
                    logger.exception("instrumentation listener %r failed on %r", listener, event)
            return result

        execute = sexecute

    def pipeline(*args: Any, **kwargs: Any) -> Any:
        pipe = inner_pipeline(*args, **kwargs) if inner_pipeline is not None else cls.pipeline(ref(), *args, **kwargs)
        return _watch_pipeline(pipe, info, ref, is_async)

    hooks = _Hooks(execute, inner, pipeline, inner_pipeline)
    with _hooks_lock:
        _hooked[hooks] = client
        if LISTENERS:
            hooks.put_on(client)


async def _aobserve(
    info: _ClientInfo, client: Any, fn: Any, call_args: tuple[Any, ...], args: tuple[Any, ...], options: Any
) -> Any:
    start = time.time_ns()
    try:
        result = await fn(*call_args, **options)
    except BaseException as exc:
        _deliver(CommandEvent(info, client, args, None, start, exc, True))
        raise
    event = CommandEvent(info, client, args, None, start, None, True)
    for listener in _snapshot:
        try:
            listener.command(event)
        except Exception:
            logger.exception("instrumentation listener %r failed on %r", listener, event)
    return result
