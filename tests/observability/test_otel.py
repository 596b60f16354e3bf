"""OpenTelemetry: a CLIENT span per Redis call under a span per pattern operation, lean clients on."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from django_redis_patterns.client import connections
from django_redis_patterns.contrib import otel
from django_redis_patterns.leaderboard import Leaderboard
from django_redis_patterns.locks import alock, lock
from django_redis_patterns.ratelimit.core import Limiter
from tests.topologies import all_topologies


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    otel.uninstall()
    otel.install(tracer_provider=provider)
    yield exporter
    otel.uninstall()


def tree(exporter: InMemorySpanExporter) -> list[tuple[str, list[str]]]:
    """(operation span, names of its child spans) for each root span, in order."""
    finished = exporter.get_finished_spans()
    roots = [s for s in finished if s.parent is None]
    return [
        (root.name, [s.name for s in finished if s.parent is not None and s.parent.span_id == root.context.span_id])
        for root in sorted(roots, key=lambda s: s.start_time or 0)
    ]


@all_topologies
def test_pattern_operations_are_parents_of_their_redis_calls_with_lean_clients(
    topology: Any, spans: InMemorySpanExporter
) -> None:
    client = connections.get_redis("default")
    assert type(client).__name__.startswith("Lean")  # the lean client is on (the default)
    # The same calls twice, spans of the second time kept: their scripts are then on the node
    # (on Cluster, each key's node), so each call is one EVALSHA (not NOSCRIPT, then EVAL).
    board = Leaderboard("otel")
    board.set_score("ann", 5)
    for _ in range(2):
        spans.clear()
        with lock("otel:job", ttl=5):
            pass
        Limiter("gcra").hit("grp\x00me", "5/m")
        board.top(10)
    assert tree(spans) == [
        ("locks.acquire", ["EVALSHA"]),
        ("locks.release", ["EVALSHA"]),
        ("ratelimit.check", ["EVALSHA"]),
        ("leaderboard.range", ["EVALSHA"]),
    ]
    calls = [s for s in spans.get_finished_spans() if s.kind == SpanKind.CLIENT]
    for span in calls:
        attrs = dict(span.attributes or {})
        assert attrs["db.system"] == "redis" and attrs["db.system.name"] == "redis"
        assert attrs["db.operation"] == attrs["db.operation.name"] == "EVALSHA"
        assert attrs["server.address"] == "127.0.0.1" if topology.kind != "sentinel" else "server.address" not in attrs
        if topology.kind == "standalone":
            assert attrs["server.port"] == topology.group.primary.port
        assert span.status.status_code != StatusCode.ERROR
    check = next(s for s in spans.get_finished_spans() if s.name == "ratelimit.check")
    assert dict(check.attributes or {})["django_redis.allowed"] is True
    assert dict(check.attributes or {})["django_redis.group"] == "grp"


def test_async_operations_and_cache_reads(topology: Any, spans: InMemorySpanExporter) -> None:
    cache.set("k", "v")

    async def run() -> None:
        async with alock("otel:async", ttl=5):
            pass
        await cache.aget_many(["k", "x"])

    asyncio.run(run())  # the lock's scripts are then on the server: one EVALSHA per call
    spans.clear()
    asyncio.run(run())
    assert tree(spans) == [
        ("locks.acquire", ["EVALSHA"]),
        ("locks.release", ["EVALSHA"]),
        ("cache.aget_many", ["MGET"]),
    ]


def test_a_failed_call_marks_its_span_as_an_error(topology: Any, spans: InMemorySpanExporter) -> None:
    client = connections.get_redis("default")
    client.set("s", "x")
    spans.clear()
    with pytest.raises(Exception, match="WRONGTYPE"):
        client.lpush("s", "y")
    (span,) = spans.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "ResponseError"
