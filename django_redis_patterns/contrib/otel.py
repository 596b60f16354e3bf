"""OpenTelemetry spans for every Redis call and every pattern operation (extra ``otel``).

::

    from django_redis_patterns.contrib import otel

    otel.install()  # after the SDK's TracerProvider is set up, e.g. in AppConfig.ready()

Each Redis command (or pipeline) becomes a CLIENT span that follows the semantic conventions
for database clients: ``db.system``/``db.system.name`` = ``redis``, ``db.operation``/
``db.operation.name`` (``GET``, ``EVALSHA``, ``PIPELINE``...), ``db.namespace`` (the
database number), ``server.address`` and ``server.port``, ``db.operation.batch.size`` for a
pipeline. Keys and values are never recorded. A pattern operation (a lock acquire, a
rate-limit check, a board page, a session load, a cache get) is an INTERNAL span named
``<pattern>.<operation>`` with the operation's attributes under ``django_redis.*``; the
commands it sends are its children. This works with the lean clients on: the spans come from
this package's own instrumentation point, not from redis-py's hooks.
"""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry import context, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ..client import instrument

__all__ = ["Tracing", "install", "installed", "uninstall"]

_PRIMITIVES = (str, bool, int, float)


def _attribute(value: Any) -> Any:
    return value if isinstance(value, _PRIMITIVES) else str(value)


class Tracing(instrument.Listener):
    """The listener that turns commands and operations into spans."""

    def __init__(self, tracer_provider: trace.TracerProvider | None = None) -> None:
        from .. import __version__

        self.tracer = trace.get_tracer("django_redis_patterns", __version__, tracer_provider=tracer_provider)

    def operation_started(self, op: instrument.Operation) -> Any:
        attributes = {"django_redis.pattern": op.pattern, "django_redis.alias": op.alias}
        span = self.tracer.start_span(f"{op.pattern}.{op.name}", kind=SpanKind.INTERNAL, attributes=attributes)
        token = context.attach(trace.set_span_in_context(span))
        return span, token

    def operation_ended(self, op: instrument.Operation, token: Any, error: BaseException | None) -> None:
        span, ctx_token = token
        for name, value in op.attrs.items():
            if value is not None:
                span.set_attribute(f"django_redis.{name}", _attribute(value))
        if error is not None:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        context.detach(ctx_token)
        span.end()

    def command(self, event: instrument.CommandEvent) -> None:
        attributes: dict[str, Any] = {
            "db.system": "redis",
            "db.system.name": "redis",
            "db.operation": event.command,
            "db.operation.name": event.command,
            "django_redis.alias": event.alias,
        }
        if event.db is not None:
            attributes["db.namespace"] = str(event.db)
            attributes["db.redis.database_index"] = int(event.db)
        host, _, port = event.node.rpartition(":")
        if host and port.isdigit():
            attributes["server.address"] = host
            attributes["server.port"] = int(port)
        elif event.node.startswith("unix:"):
            attributes["network.transport"] = "unix"
            attributes["server.address"] = event.node[5:]
        if event.commands is not None:
            attributes["db.operation.batch.size"] = len(event.commands)
        if event.pattern is not None:
            attributes["django_redis.pattern"] = event.pattern
        span = self.tracer.start_span(
            event.command, kind=SpanKind.CLIENT, attributes=attributes, start_time=event.start_ns
        )
        if event.error is not None:
            span.record_exception(event.error)
            span.set_status(Status(StatusCode.ERROR, type(event.error).__name__))
            attributes["error.type"] = type(event.error).__name__
            span.set_attribute("error.type", type(event.error).__name__)
        span.end(end_time=event.end_ns)


_installed: Tracing | None = None
_lock = threading.Lock()


def install(tracer_provider: trace.TracerProvider | None = None) -> Tracing:
    """Start making spans (once; later calls return the same listener).

    ``tracer_provider``: default the global one (``opentelemetry.trace.set_tracer_provider``).
    """
    global _installed
    with _lock:
        if _installed is None:
            _installed = Tracing(tracer_provider)
            instrument.add_listener(_installed)
        return _installed


def installed() -> Tracing | None:
    return _installed


def uninstall() -> None:
    """Stop making spans."""
    global _installed
    with _lock:
        if _installed is not None:
            instrument.remove_listener(_installed)
            _installed = None
