"""The instrumentation point's cost on the hottest call, a cache ``get`` hit.

Two comparisons, each against the same ``get`` on a build without the instrumentation point
(the client without its ``execute_command``/``pipeline`` hook, and ``RedisCache.get`` without
its listener check; otherwise the same client class, pool and key):

* nothing listens: what every user pays (target: within 3 %);
* Prometheus metrics on (``contrib.prometheus``, a private registry): the cost of counting
  every command and every hit (target: within 15 %);
* OpenTelemetry spans on (``contrib.otel``; the SDK's tracer provider and batch processor,
  spans handed to an exporter that drops them): two spans per ``get``, the cache operation
  and its command. What a traced service pays before the network.
"""

from __future__ import annotations

import functools
from typing import Any

from django.core.cache import caches
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from prometheus_client import CollectorRegistry

from django_redis_patterns.cache import errors
from django_redis_patterns.cache.backend import RedisCache
from django_redis_patterns.cache.errors import REDIS_ERRORS
from django_redis_patterns.client import instrument
from django_redis_patterns.contrib import otel, prometheus

VALUE = {"id": 42, "name": "player-42", "score": 1234.5, "tags": ["a", "b", "c"], "bio": "x" * 200}


def guarded_without_hook(command: str, fallback: Any) -> Any:
    """``cache.errors.guarded`` (sync) as it is without the instrumentation point."""

    def decorate(method: Any) -> Any:
        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                result = method(self, *args, **kwargs)
            except REDIS_ERRORS as exc:
                return self._failed(exc, command, fallback(*args, **kwargs))
            if errors._failing:
                errors.record_success(self.alias, self._spec)
            return result

        return wrapper

    return decorate


class DroppingExporter(SpanExporter):
    """Counts the spans it is handed and drops them (no collector on this machine)."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Any) -> SpanExportResult:
        self.spans += len(spans)
        return SpanExportResult.SUCCESS


class NoHookCache(RedisCache):
    """``RedisCache.get`` as it is without the instrumentation point (see :func:`run`)."""

    @guarded_without_hook("GET", lambda key, default=None, version=None: default)
    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        raw = self._reader().get(self.make_and_validate_key(key, version=version))
        return default if raw is None else self._codec.decode(raw)


def run(ctx: Any) -> None:
    ours = caches["default"]
    # Its own connection spec (one more allowed connection: nothing this benchmark reaches), so
    # the connection layer builds and caches it a client of its own, found the same way as
    # ours; that client is then detached from the instrumentation point (never hooked).
    plain = NoHookCache(ctx.url, {"OPTIONS": {"MAX_CONNECTIONS": 1001}})
    unhooked = plain._reader()
    instrument.detach(unhooked)
    assert type(unhooked) is type(ours._reader()) and unhooked is not ours._reader()
    ours.set("bench:get", VALUE, 3600)
    assert plain.get("bench:get") == ours.get("bench:get") == VALUE

    ctx.compare(
        "cache get (hit): nothing listens",
        {
            "ours, instrumentation off": lambda: ours.get("bench:get"),
            "no instrumentation point": lambda: plain.get("bench:get"),
        },
        number=2000,
        repeat=31,
    )

    def listening(title: str, label: str) -> None:
        ctx.compare(
            title,
            {label: lambda: ours.get("bench:get"), "no instrumentation point": lambda: plain.get("bench:get")},
            number=800,
            repeat=15,
        )

    prometheus.uninstall()
    metrics = prometheus.install(CollectorRegistry())
    try:
        listening("cache get (hit): Prometheus metrics on", "ours, metrics on")
        hits = metrics.registry.get_sample_value(
            "django_redis_cache_get_hits_total", {"alias": "default", "prefix": ""}
        )
        assert hits and hits > 0  # the metrics really counted
    finally:
        prometheus.uninstall()

    exporter = DroppingExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    otel.uninstall()
    otel.install(provider)
    try:
        listening("cache get (hit): OpenTelemetry spans on", "ours, spans on")
    finally:
        otel.uninstall()
        provider.shutdown()  # flushes the batch
    assert exporter.spans > 0  # the spans were really made and exported
