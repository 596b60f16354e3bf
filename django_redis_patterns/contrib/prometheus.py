"""Prometheus metrics for every pattern (extra ``prometheus``: ``prometheus_client``).

::

    from django_redis_patterns.contrib import prometheus

    prometheus.install()  # once, e.g. in an AppConfig.ready()
    urlpatterns += [path("metrics", prometheus.metrics_view)]

Names follow django-prometheus's conventions (``django_`` prefix, ``_total`` counters,
``_seconds`` histograms); every metric is labelled by cache ``alias``, and no label takes a
value from a request (keys, lock names, user ids never become labels). Labels whose values
come from code or settings (a rate-limit group, a board name, a KEY_PREFIX) are capped at
:data:`MAX_LABEL_VALUES` distinct values each; later ones are counted under ``"other"``.
The catalogue with the meaning of each metric is in docs/observability.md.
"""

from __future__ import annotations

import threading
from typing import Any

from django.http import HttpRequest, HttpResponse
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ..client import instrument

__all__ = ["MAX_LABEL_VALUES", "Metrics", "install", "installed", "metrics_view", "uninstall"]

#: Distinct values kept per open-ended label (group, board, prefix, command); then "other".
MAX_LABEL_VALUES = 50

# Redis round trips are tens of microseconds to a few milliseconds; lock waits and holds are
# up to minutes.
_COMMAND_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
_WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class _Capped:
    """Maps a label value to itself for the first ``limit`` distinct values, else to "other"."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, value: Any) -> str:
        text = "" if value is None else str(value)
        if text in self.seen:
            return text
        with self.lock:
            if text in self.seen:
                return text
            if len(self.seen) >= self.limit:
                return "other"
            self.seen.add(text)
            return text


class Metrics(instrument.Listener):
    """The metrics and the listener that updates them (one per registry)."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        self._command = _Capped(MAX_LABEL_VALUES)
        self._group = _Capped(MAX_LABEL_VALUES)
        self._board = _Capped(MAX_LABEL_VALUES)
        self._prefix = _Capped(MAX_LABEL_VALUES)
        # -- every round trip
        self.commands = Counter(
            "django_redis_commands_total",
            "Redis commands and pipelines sent, by the pattern that sent them",
            ["alias", "pattern", "command"],
            registry=registry,
        )
        self.command_errors = Counter(
            "django_redis_command_errors_total", "Redis commands that raised", ["alias", "pattern"], registry=registry
        )
        self.command_seconds = Histogram(
            "django_redis_command_duration_seconds",
            "Time from sending a command (or pipeline) to its reply",
            ["alias", "pattern"],
            buckets=_COMMAND_BUCKETS,
            registry=registry,
        )
        # -- cache
        self.cache_hits = Counter(
            "django_redis_cache_get_hits_total",
            "Cache reads that found the key",
            ["alias", "prefix"],
            registry=registry,
        )
        self.cache_misses = Counter(
            "django_redis_cache_get_misses_total",
            "Cache reads that did not find the key",
            ["alias", "prefix"],
            registry=registry,
        )
        self.stampede_wait = Histogram(
            "django_redis_cache_stampede_wait_seconds",
            "Time a get_or_set waited for another caller's recompute",
            ["alias", "found"],
            buckets=_WAIT_BUCKETS,
            registry=registry,
        )
        self.recomputes = Counter(
            "django_redis_cache_recomputes_total",
            "get_or_set recomputes of a value",
            ["alias", "locked"],
            registry=registry,
        )
        # -- sessions and the circuit breaker
        self.sessions = Counter(
            "django_redis_session_operations_total",
            "Session loads, saves, deletes and revocations",
            ["alias", "operation"],
            registry=registry,
        )
        self.session_errors = Counter(
            "django_redis_session_errors_total",
            "Session operations that found Redis unavailable",
            ["alias"],
            registry=registry,
        )
        self.breaker_open = Gauge(
            "django_redis_breaker_open",
            "1 while the alias's circuit breaker is open (calls fail fast)",
            ["alias"],
            registry=registry,
        )
        self.breaker_opened = Counter(
            "django_redis_breaker_opened_total",
            "Times the alias's circuit breaker opened",
            ["alias"],
            registry=registry,
        )
        # -- rate limiting
        self.ratelimit = Counter(
            "django_redis_ratelimit_decisions_total",
            "Counted rate-limit checks (hits), by decision",
            ["alias", "algorithm", "group", "decision"],
            registry=registry,
        )
        # -- locks
        self.lock_acquires = Counter(
            "django_redis_lock_acquires_total", "Lock acquire calls, by result", ["alias", "result"], registry=registry
        )
        self.lock_wait = Histogram(
            "django_redis_lock_wait_seconds",
            "Time an acquire call took, waiting included",
            ["alias"],
            buckets=_WAIT_BUCKETS,
            registry=registry,
        )
        self.lock_hold = Histogram(
            "django_redis_lock_hold_seconds",
            "Time a lock was held, acquire to release",
            ["alias"],
            buckets=_WAIT_BUCKETS,
            registry=registry,
        )
        self.lock_lost = Counter(
            "django_redis_lock_lost_total",
            "Locks found lost (expired or taken) while held",
            ["alias"],
            registry=registry,
        )
        self.lock_renewals = Counter(
            "django_redis_lock_renewals_total", "Automatic lock renewals", ["alias"], registry=registry
        )
        # -- leaderboards
        self.board_ops = Counter(
            "django_redis_leaderboard_operations_total",
            "Board writes (sync) and reads",
            ["alias", "board", "kind"],
            registry=registry,
        )
        self.board_read_entries = Histogram(
            "django_redis_leaderboard_read_entries",
            "Entries a board read returned",
            ["alias", "board"],
            buckets=(0, 1, 5, 10, 25, 50, 100, 250, 1000),
            registry=registry,
        )
        self.board_rebuilds = Counter(
            "django_redis_leaderboard_rebuilds_total",
            "Board rebuilds (healed: a read found the board missing)",
            ["alias", "board", "healed"],
            registry=registry,
        )
        self.board_members = Gauge(
            "django_redis_leaderboard_members",
            "Members on the board at its last rebuild or check",
            ["alias", "board"],
            registry=registry,
        )
        self.board_drift = Gauge(
            "django_redis_leaderboard_drift_members",
            "Members that differ from the source table at the last check, by kind",
            ["alias", "board", "kind"],
            registry=registry,
        )

    # -- listener ---------------------------------------------------------------------------
    def command(self, event: instrument.CommandEvent) -> None:
        pattern = event.pattern or "other"
        self.commands.labels(event.alias, pattern, self._command(event.command.split(" ", 1)[0])).inc()
        self.command_seconds.labels(event.alias, pattern).observe(event.duration)
        if event.error is not None:
            self.command_errors.labels(event.alias, pattern).inc()

    def event(self, event: instrument.PatternEvent) -> None:
        handler = getattr(self, f"_{event.pattern}_{event.name}", None)
        if handler is not None:
            handler(event.alias, event.data)

    def _cache_hit(self, alias: str, d: dict[str, Any]) -> None:
        self.cache_hits.labels(alias, self._prefix(d["prefix"])).inc(d["count"])

    def _cache_miss(self, alias: str, d: dict[str, Any]) -> None:
        self.cache_misses.labels(alias, self._prefix(d["prefix"])).inc(d["count"])

    def _cache_stampede_wait(self, alias: str, d: dict[str, Any]) -> None:
        self.stampede_wait.labels(alias, str(d["found"]).lower()).observe(d["seconds"])

    def _cache_recompute(self, alias: str, d: dict[str, Any]) -> None:
        self.recomputes.labels(alias, str(d["locked"]).lower()).inc()

    def _sessions_load(self, alias: str, d: dict[str, Any]) -> None:
        self.sessions.labels(alias, "load").inc()

    def _sessions_save(self, alias: str, d: dict[str, Any]) -> None:
        self.sessions.labels(alias, "save").inc()

    def _sessions_delete(self, alias: str, d: dict[str, Any]) -> None:
        self.sessions.labels(alias, "delete").inc()

    def _sessions_revoke(self, alias: str, d: dict[str, Any]) -> None:
        self.sessions.labels(alias, "revoke").inc()

    def _sessions_error(self, alias: str, d: dict[str, Any]) -> None:
        self.session_errors.labels(alias).inc()

    def _client_breaker(self, alias: str, d: dict[str, Any]) -> None:
        is_open = d["state"] == "open"
        self.breaker_open.labels(alias).set(1 if is_open else 0)
        if is_open:
            self.breaker_opened.labels(alias).inc()

    def _ratelimit_decision(self, alias: str, d: dict[str, Any]) -> None:
        if d["counted"]:  # a peek decides nothing
            decision = "allowed" if d["allowed"] else "denied"
            self.ratelimit.labels(alias, d["algorithm"], self._group(d["group"]), decision).inc()

    def _locks_acquire(self, alias: str, d: dict[str, Any]) -> None:
        self.lock_acquires.labels(alias, "acquired" if d["acquired"] else "not_acquired").inc()
        self.lock_wait.labels(alias).observe(d["wait"])

    def _locks_release(self, alias: str, d: dict[str, Any]) -> None:
        self.lock_hold.labels(alias).observe(d["held"])

    def _locks_lost(self, alias: str, d: dict[str, Any]) -> None:
        self.lock_lost.labels(alias).inc()

    def _locks_renew(self, alias: str, d: dict[str, Any]) -> None:
        self.lock_renewals.labels(alias).inc()

    def _leaderboard_sync(self, alias: str, d: dict[str, Any]) -> None:
        self.board_ops.labels(alias, self._board(d["board"]), "sync").inc()

    def _leaderboard_read(self, alias: str, d: dict[str, Any]) -> None:
        board = self._board(d["board"])
        self.board_ops.labels(alias, board, "read").inc()
        if d["size"] is not None:
            self.board_read_entries.labels(alias, board).observe(d["size"])

    def _leaderboard_rebuild(self, alias: str, d: dict[str, Any]) -> None:
        board = self._board(d["board"])
        self.board_rebuilds.labels(alias, board, str(d["healed"]).lower()).inc()
        self.board_members.labels(alias, board).set(d["members"])

    def _leaderboard_drift(self, alias: str, d: dict[str, Any]) -> None:
        board = self._board(d["board"])
        self.board_members.labels(alias, board).set(d["members"])
        for kind in ("missing", "extra", "mismatched", "wrong_partition"):
            self.board_drift.labels(alias, board, kind).set(d[kind])

    def unregister(self) -> None:
        for value in vars(self).values():
            if isinstance(value, Counter | Gauge | Histogram):
                self.registry.unregister(value)


_installed: Metrics | None = None
_install_lock = threading.Lock()


def install(registry: CollectorRegistry = REGISTRY) -> Metrics:
    """Register the metrics in ``registry`` and start counting (once; later calls return the same)."""
    global _installed
    with _install_lock:
        if _installed is None:
            _installed = Metrics(registry)
            instrument.add_listener(_installed)
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
            _installed.unregister()
            _installed = None


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus text exposition of the registry the metrics were installed in."""
    registry = _installed.registry if _installed is not None else REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
