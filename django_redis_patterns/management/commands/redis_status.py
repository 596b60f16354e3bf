"""``manage.py redis_status``: topology, version, role, latency and memory of every Redis alias,
and, with the leaderboard app installed, whether Redis still holds each model's board."""

from __future__ import annotations

import time
from typing import Any, cast

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from redis.cluster import RedisCluster
from redis.sentinel import SentinelConnectionPool

from django_redis_patterns.client import compat, connections
from django_redis_patterns.client.leanclient import LeanRedis
from django_redis_patterns.client.leancluster import LeanRedisCluster
from django_redis_patterns.exceptions import ImproperlyConfigured

CLUSTER_SLOTS = 16384


def redis_aliases() -> list[str]:
    return [
        alias
        for alias, config in (getattr(settings, "CACHES", {}) or {}).items()
        if connections.dialect_of(config.get("BACKEND", "")) is not None
    ]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def describe(alias: str) -> list[str]:
    """Lines describing one alias; raises on any failure (the caller prints one line)."""
    spec = connections.spec_for_alias(alias)
    client = connections.get_redis(alias)
    started = time.perf_counter()
    client.ping()
    rtt_ms = (time.perf_counter() - started) * 1000
    lines = [f"{alias}: {spec.topology} {', '.join(spec.display_nodes())}"]
    if not spec.fake:
        lines.append("  " + compat.status_line(spec.topology, spec.lean))
        if isinstance(client, LeanRedis | LeanRedisCluster):
            lines.append(
                f"  reply wait: polls up to {spec.spin_wait_us} µs, then sleeps"
                if spec.spin_wait_us
                else "  reply wait: sleeps at once (OPTIONS['SPIN_WAIT_US'] = 0)"
            )
    if isinstance(client, RedisCluster):
        info = client.info("server", target_nodes=client.get_random_node())
        memory = client.info("memory", target_nodes=client.PRIMARIES)
        used = sum(v.get("used_memory", 0) for v in memory.values())
        lines.append(
            f"  version {info['redis_version']}, round trip {rtt_ms:.2f} ms, memory {_human(used)} (primaries)"
        )
        covered = 0
        slots: dict[tuple[int, int], Any] = client.cluster_slots()  # type: ignore[assignment]  # a dict in redis-py
        for (start, end), _ in slots.items():
            covered += end - start + 1
        state = "all 16384 slots covered" if covered == CLUSTER_SLOTS else f"only {covered}/16384 slots covered"
        lines.append(f"  {state}")
        for node in sorted(client.get_nodes(), key=lambda n: (n.server_type != "primary", n.name)):
            lines.append(f"  node {node.name} {node.server_type}")
        return lines
    info = client.info()
    role = info.get("role", "?")
    lines.append(
        f"  version {info['redis_version']}, role {role}, round trip {rtt_ms:.2f} ms, "
        f"memory {info.get('used_memory_human', '?')}"
    )
    if spec.topology == "sentinel":
        manager = cast(SentinelConnectionPool, client.connection_pool).sentinel_manager
        host, port = manager.discover_master(spec.service)
        replicas = manager.discover_slaves(spec.service)
        lines.append(f"  sentinel service {spec.service!r}: primary {host}:{port}")
        lines.append("  replicas: " + (", ".join(f"{h}:{p}" for h, p in replicas) or "none"))
    elif len(spec.nodes) > 1:
        lines.append(f"  replicas configured: {len(spec.nodes) - 1}")
    return lines


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "K", "M", "G"):
        if size < 1024:
            return f"{size:.2f}{unit}"
        size /= 1024
    return f"{size:.2f}T"


class Command(BaseCommand):
    help = "Show topology, version, role, round trip and memory of every Redis cache alias."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("aliases", nargs="*", help="Cache aliases to check (default: every Redis alias).")

    def handle(self, *args: Any, **options: Any) -> None:
        aliases = options["aliases"] or redis_aliases()
        if not aliases:
            raise CommandError("no Redis cache alias in CACHES")
        failures = []
        for alias in aliases:
            try:
                lines = describe(alias)
            except ImproperlyConfigured as exc:
                failures.append(f"{alias}: misconfigured: {exc}")
                continue
            except Exception as exc:  # any failure is one line, never a traceback
                failures.append(f"{alias}: unreachable: {_first_line(exc)}")
                continue
            for line in lines:
                self.stdout.write(line)
        if not options["aliases"] and apps.is_installed("django_redis_patterns.leaderboard"):
            failures += self._leaderboards()
        for line in failures:
            self.stderr.write(line)
        if failures:
            raise SystemExit(1)

    def _leaderboards(self) -> list[str]:
        """Print whether Redis holds each model's board; a missing board that will not heal
        itself (self-healing off) or one Redis could not be asked about is a failure."""
        from django_redis_patterns.leaderboard.heal import board_states, period_states

        states = board_states()
        if states:
            self.stdout.write("leaderboards:")
        failures = []
        for state in states:
            if state.held is None or (not state.held and not state.board.self_heal):
                failures.append(f"  {state.describe()}")
            else:
                self.stdout.write(f"  {state.describe()}")
        # a current period board Redis lost: a failure only when reads of it raise BoardMissing
        for period in period_states(states):
            if period.fails_reads:
                failures.append(f"  {period.describe()}")
            else:
                self.stdout.write(f"  {period.describe()}")
        return failures
