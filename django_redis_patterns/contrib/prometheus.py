"""Prometheus metrics for every pattern (extra ``prometheus``: ``prometheus_client``).

::

    from django_redis_patterns.contrib import prometheus

    prometheus.install()  # once, e.g. in an AppConfig.ready()
    urlpatterns += [path("metrics", prometheus.metrics_view)]

Names follow django-prometheus's conventions (``django_`` prefix, ``_total`` counters,
``_seconds`` histograms); every metric is labelled by cache ``alias``, and no label takes a
value from a request (keys, lock names, user ids never become labels). Labels whose values
come from code or settings (a rate-limit group, a board name, a KEY_PREFIX, a command name)
are capped at :data:`MAX_LABEL_VALUES` distinct values each; later ones are counted under
``"other"``. The catalogue with the meaning of each metric is in docs/observability.md.

The numbers are kept in plain dicts under one lock and handed to ``prometheus_client`` at
scrape time (a custom collector): an update costs a dict operation, not a metric object's
own locking, which matters on a path that runs for every Redis command.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from ..client import instrument

__all__ = ["MAX_LABEL_VALUES", "Metrics", "install", "installed", "metrics_view", "uninstall"]

#: Distinct values kept per open-ended label (group, board, prefix, command); then "other".
MAX_LABEL_VALUES = 50

# Redis round trips are tens of microseconds to a few milliseconds; lock waits and holds are
# up to minutes.
COMMAND_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
ENTRY_BUCKETS = (0, 1, 5, 10, 25, 50, 100, 250, 1000)


_LOOKUPS = frozenset({("cache", "hit"), ("cache", "miss")})


class _Capped:
    """Maps a label value to itself for the first ``limit`` distinct values, else to "other"."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen: set[str] = set()

    def __call__(self, value: Any) -> str:  # called under Metrics.lock
        text = "" if value is None else str(value)
        if text in self.seen:
            return text
        if len(self.seen) >= self.limit:
            return "other"
        self.seen.add(text)
        return text


class _Family:
    """One metric: its values per label tuple (histograms: bucket counts and sum)."""

    def __init__(self, kind: str, name: str, doc: str, labels: tuple[str, ...], buckets: tuple[float, ...] = ()):
        self.kind = kind
        self.name = name
        self.doc = doc
        self.labels = labels
        self.buckets = buckets
        self.values: dict[tuple[str, ...], Any] = {}

    def metric(self) -> Metric:
        labels = list(self.labels)
        family: Any
        if self.kind == "counter":
            family = CounterMetricFamily(self.name, self.doc, labels=labels)
            for key, value in self.values.items():
                family.add_metric(list(key), value)
        elif self.kind == "gauge":
            family = GaugeMetricFamily(self.name, self.doc, labels=labels)
            for key, value in self.values.items():
                family.add_metric(list(key), value)
        else:
            family = HistogramMetricFamily(self.name, self.doc, labels=labels)
            for key, (counts, total) in self.values.items():
                cumulative, running = [], 0
                for bound, count in zip((*self.buckets, float("inf")), counts, strict=True):
                    running += count
                    cumulative.append((_le(bound), running))
                family.add_metric(list(key), cumulative, total)
        return family  # type: ignore[no-any-return]


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


class Metrics(instrument.Listener, Collector):
    """The metrics, the listener that updates them, and the collector that reports them."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        self.lock = threading.Lock()
        self._command = _Capped(MAX_LABEL_VALUES)
        self._group = _Capped(MAX_LABEL_VALUES)
        self._board = _Capped(MAX_LABEL_VALUES)
        self._prefix = _Capped(MAX_LABEL_VALUES)
        self.families: list[_Family] = []
        c, g, h = self._counter, self._gauge, self._histogram
        # -- every round trip
        self.commands = c(
            "commands", "Redis commands and pipelines sent, by the pattern that sent them", "pattern", "command"
        )
        self.command_errors = c("command_errors", "Redis commands that raised", "pattern")
        self.command_seconds = h(
            "command_duration_seconds",
            "Time from sending a command (or pipeline) to its reply",
            COMMAND_BUCKETS,
            "pattern",
        )
        # -- cache
        self.cache_hits = c("cache_get_hits", "Cache reads that found the key", "prefix")
        self.cache_misses = c("cache_get_misses", "Cache reads that did not find the key", "prefix")
        self.stampede_wait = h(
            "cache_stampede_wait_seconds",
            "Time a get_or_set waited for another caller's recompute",
            WAIT_BUCKETS,
            "found",
        )
        self.recomputes = c("cache_recomputes", "get_or_set recomputes of a value", "locked")
        # -- sessions and the circuit breaker
        self.sessions = c("session_operations", "Session loads, saves, deletes and revocations", "operation")
        self.session_errors = c("session_errors", "Session operations that found Redis unavailable")
        self.breaker_open = g("breaker_open", "1 while the alias's circuit breaker is open (calls fail fast)")
        self.breaker_opened = c("breaker_opened", "Times the alias's circuit breaker opened")
        # -- rate limiting
        self.ratelimit = c(
            "ratelimit_decisions", "Counted rate-limit checks (hits), by decision", "algorithm", "group", "decision"
        )
        # -- locks
        self.lock_acquires = c("lock_acquires", "Lock acquire calls, by result", "result")
        self.lock_wait = h("lock_wait_seconds", "Time an acquire call took, waiting included", WAIT_BUCKETS)
        self.lock_hold = h("lock_hold_seconds", "Time a lock was held, acquire to release", WAIT_BUCKETS)
        self.lock_lost = c("lock_lost", "Locks found lost (expired or taken) while held")
        self.lock_renewals = c("lock_renewals", "Automatic lock renewals")
        # -- leaderboards
        self.board_ops = c("leaderboard_operations", "Board writes (sync) and reads", "board", "kind")
        self.board_read_entries = h("leaderboard_read_entries", "Entries a board read returned", ENTRY_BUCKETS, "board")
        self.board_rebuilds = c(
            "leaderboard_rebuilds", "Board rebuilds (healed: a read found the board missing)", "board", "healed"
        )
        self.board_members = g("leaderboard_members", "Members on the board at its last rebuild or check", "board")
        self.board_drift = g(
            "leaderboard_drift_members",
            "Members that differ from the source table at the last check, by kind",
            "board",
            "kind",
        )
        # The hottest numbers (per command, and cache hits and misses) are kept per thread,
        # without a lock, and added into the families at each scrape. Each thread's store:
        # (alias, pattern, command) -> [commands, errors, bucket counts, seconds], and
        # (alias, prefix, hit) -> keys. Stores of finished threads are kept: their counts stay.
        self._local = threading.local()
        self._stores: list[dict[tuple[Any, ...], Any]] = []
        self._merged: list[dict[tuple[Any, ...], Any]] = []  # what was added from each store so far
        self._handlers = {
            tuple(name[1:].split("_", 1)): getattr(self, name)
            for name in dir(type(self))
            if name.startswith(("_cache_", "_sessions_", "_client_", "_ratelimit_", "_locks_", "_leaderboard_"))
        }

    # -- families -------------------------------------------------------------------------
    def _counter(self, name: str, doc: str, *labels: str) -> _Family:
        return self._add(_Family("counter", f"django_redis_{name}", doc, ("alias", *labels)))

    def _gauge(self, name: str, doc: str, *labels: str) -> _Family:
        return self._add(_Family("gauge", f"django_redis_{name}", doc, ("alias", *labels)))

    def _histogram(self, name: str, doc: str, buckets: tuple[float, ...], *labels: str) -> _Family:
        return self._add(_Family("histogram", f"django_redis_{name}", doc, ("alias", *labels), buckets))

    def _add(self, family: _Family) -> _Family:
        self.families.append(family)
        return family

    @staticmethod
    def _inc(family: _Family, key: tuple[str, ...], amount: float = 1) -> None:  # under self.lock
        values = family.values
        values[key] = values.get(key, 0) + amount

    @staticmethod
    def _observe(family: _Family, key: tuple[str, ...], value: float) -> None:  # under self.lock
        entry = family.values.get(key)
        if entry is None:
            entry = family.values[key] = [[0] * (len(family.buckets) + 1), 0.0]
        entry[0][bisect.bisect_left(family.buckets, value)] += 1
        entry[1] += value

    def collect(self) -> Iterator[Metric]:
        with self.lock:
            self._merge()
            return iter([family.metric() for family in self.families])

    def describe(self) -> Iterator[Metric]:
        return iter([_Family(f.kind, f.name, f.doc, f.labels, f.buckets).metric() for f in self.families])

    def _store(self) -> dict[tuple[Any, ...], Any]:
        store: dict[tuple[Any, ...], Any] = {}
        self._local.store = store
        with self.lock:
            self._stores.append(store)
            self._merged.append({})
        return store

    def _merge(self) -> None:
        """Add what the threads counted since the last scrape into the families (under self.lock)."""
        for store, merged in zip(self._stores, self._merged, strict=True):
            for key, value in dict(store).items():  # a copy: the thread may be adding keys
                if len(key) == 3 and isinstance(key[2], bool):
                    alias, prefix, hit = key
                    delta = value - merged.get(key, 0)
                    merged[key] = value
                    if delta:
                        self._inc(self.cache_hits if hit else self.cache_misses, (alias, self._prefix(prefix)), delta)
                    continue
                alias, pattern, command = key
                count, errors, buckets, seconds = value[0], value[1], list(value[2]), value[3]
                seen = merged.get(key) or (0, 0, [0] * len(buckets), 0.0)
                merged[key] = (count, errors, buckets, seconds)
                pattern = pattern or "other"
                name = self._command(command.split(" ", 1)[0])
                if count - seen[0]:
                    self._inc(self.commands, (alias, pattern, name), count - seen[0])
                if errors - seen[1]:
                    self._inc(self.command_errors, (alias, pattern), errors - seen[1])
                entry = self.command_seconds.values.get((alias, pattern))
                if entry is None:
                    entry = self.command_seconds.values[(alias, pattern)] = [[0] * len(buckets), 0.0]
                for i, (now, before) in enumerate(zip(buckets, seen[2], strict=True)):
                    entry[0][i] += now - before
                entry[1] += seconds - seen[3]

    # -- listener ---------------------------------------------------------------------------
    def command(self, event: instrument.CommandEvent) -> None:
        # Runs for every command: this thread's own store, no lock.
        try:
            store = self._local.store
        except AttributeError:
            store = self._store()
        seconds = (event.end_ns - event.start_ns) / 1e9
        key = (event.alias, event.pattern, event.command)
        entry = store.get(key)
        if entry is None:
            entry = store[key] = [0, 0, [0] * (len(COMMAND_BUCKETS) + 1), 0.0]
        entry[0] += 1
        entry[2][bisect.bisect_left(COMMAND_BUCKETS, seconds)] += 1
        entry[3] += seconds
        if event.error is not None:
            entry[1] += 1

    def event(self, event: instrument.PatternEvent) -> None:
        kind = event.kind
        if kind in _LOOKUPS:  # the hot ones: this thread's store, no lock (_looked_up, written out)
            try:
                store = self._local.store
            except AttributeError:
                store = self._store()
            d = event.data
            key = (event.alias, d["prefix"], kind[1] == "hit")
            store[key] = store.get(key, 0) + d["count"]
            return
        handler = self._handlers.get(kind)
        if handler is not None:
            with self.lock:
                handler(event.alias, event.data)

    # Handlers, named _<pattern>_<event>, run under self.lock.
    def _cache_hit(self, alias: str, d: dict[str, Any]) -> None:
        self._looked_up(alias, d["prefix"], True, d["count"])

    def _cache_miss(self, alias: str, d: dict[str, Any]) -> None:
        self._looked_up(alias, d["prefix"], False, d["count"])

    def _looked_up(self, alias: str, prefix: str, hit: bool, count: int) -> None:
        try:
            store = self._local.store
        except AttributeError:
            store = self._store()
        key = (alias, prefix, hit)
        store[key] = store.get(key, 0) + count

    def _cache_stampede_wait(self, alias: str, d: dict[str, Any]) -> None:
        self._observe(self.stampede_wait, (alias, str(d["found"]).lower()), d["seconds"])

    def _cache_recompute(self, alias: str, d: dict[str, Any]) -> None:
        self._inc(self.recomputes, (alias, str(d["locked"]).lower()))

    def _sessions_load(self, alias: str, d: dict[str, Any]) -> None:
        self._inc(self.sessions, (alias, "load"))

    def _sessions_save(self, alias: str, d: dict[str, Any]) -> None:
        self._inc(self.sessions, (alias, "save"))

    def _sessions_delete(self, alias: str, d: dict[str, Any]) -> None:
        self._inc(self.sessions, (alias, "delete"))

    def _sessions_revoke(self, alias: str, d: dict[str, Any]) -> None:
        self._inc(self.sessions, (alias, "revoke"))

    def _sessions_error(self, alias: str, d: dict[str, Any]) -> None:
        self._inc(self.session_errors, (alias,))

    def _client_breaker(self, alias: str, d: dict[str, Any]) -> None:
        is_open = d["state"] == "open"
        self.breaker_open.values[(alias,)] = 1 if is_open else 0
        if is_open:
            self._inc(self.breaker_opened, (alias,))

    def _ratelimit_decision(self, alias: str, d: dict[str, Any]) -> None:
        if d["counted"]:  # a peek decides nothing
            decision = "allowed" if d["allowed"] else "denied"
            self._inc(self.ratelimit, (alias, d["algorithm"], self._group(d["group"]), decision))

    def _locks_acquire(self, alias: str, d: dict[str, Any]) -> None:
        self._inc(self.lock_acquires, (alias, "acquired" if d["acquired"] else "not_acquired"))
        self._observe(self.lock_wait, (alias,), d["wait"])

    def _locks_release(self, alias: str, d: dict[str, Any]) -> None:
        self._observe(self.lock_hold, (alias,), d["held"])

    def _locks_lost(self, alias: str, d: dict[str, Any]) -> None:
        self._inc(self.lock_lost, (alias,))

    def _locks_renew(self, alias: str, d: dict[str, Any]) -> None:
        self._inc(self.lock_renewals, (alias,))

    def _leaderboard_sync(self, alias: str, d: dict[str, Any]) -> None:
        self._inc(self.board_ops, (alias, self._board(d["board"]), "sync"))

    def _leaderboard_read(self, alias: str, d: dict[str, Any]) -> None:
        board = self._board(d["board"])
        self._inc(self.board_ops, (alias, board, "read"))
        if d["size"] is not None:
            self._observe(self.board_read_entries, (alias, board), d["size"])

    def _leaderboard_rebuild(self, alias: str, d: dict[str, Any]) -> None:
        board = self._board(d["board"])
        self._inc(self.board_rebuilds, (alias, board, str(d["healed"]).lower()))
        self.board_members.values[(alias, board)] = d["members"]

    def _leaderboard_drift(self, alias: str, d: dict[str, Any]) -> None:
        board = self._board(d["board"])
        self.board_members.values[(alias, board)] = d["members"]
        for kind in ("missing", "extra", "mismatched", "wrong_partition"):
            self.board_drift.values[(alias, board, kind)] = d[kind]


_installed: Metrics | None = None
_install_lock = threading.Lock()


def install(registry: CollectorRegistry = REGISTRY) -> Metrics:
    """Register the metrics in ``registry`` and start counting (once; later calls return the same)."""
    global _installed
    with _install_lock:
        if _installed is None:
            metrics = Metrics(registry)
            registry.register(metrics)
            instrument.add_listener(metrics)
            _installed = metrics
        elif _installed.registry is not registry:
            raise ValueError("django_redis_patterns.contrib.prometheus is already installed in another registry")
        return _installed


def installed() -> Metrics | None:
    return _installed


def uninstall() -> None:
    """Stop counting and remove the metrics from their registry (tests, reloads)."""
    global _installed
    with _install_lock:
        if _installed is not None:
            instrument.remove_listener(_installed)
            _installed.registry.unregister(_installed)
            _installed = None


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus text exposition of the registry the metrics were installed in."""
    registry = _installed.registry if _installed is not None else REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
