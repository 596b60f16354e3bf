"""Side-by-side benchmark harness: ours vs each competitor, in one run, as ratios.

A benchmark module is ``bench/bench_<name>.py`` defining ``run(ctx: Context) -> None``
that calls ``ctx.compare(...)`` once per measured operation::

    def run(ctx):
        client = ctx.redis()                     # bare redis-py on the bench server
        ctx.compare("GET round trip", {
            "ours": lambda: get_redis().get("k"),
            "bare redis-py": lambda: client.get("k"),
        })

The first contender is "ours"; every other row reports ours/them as a ratio (>1 means
we are faster). Timing: warm-up, then ``repeat`` rounds of ``number`` calls each, every
contender once per round; each contender's median round is its ops/s, and a ratio is the
median of the per-round ratios. Nothing is installed at run time (``pip install -e .[bench]``).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import platform
import statistics
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import redis

from django_redis_patterns.client import spin
from django_redis_patterns.testing import servers

RESULTS_DIR = Path(__file__).parent / "results"


#: The contender that is no client at all (see RawSocket).
CEILING = "ceiling: raw socket, no client"


class RawSocket:
    """One command, one round trip, no client library: hiredis packs and parses, nothing else.

    Not a client anyone should use (no timeouts, reconnects or pooling). It is measured
    beside the contenders as the ceiling: no Python client can beat it on the same
    command, so ``their time / ceiling time`` is the largest ratio any implementation could
    reach against a competitor in that run. As the ceiling it waits for a reply as our
    lean clients do by default (polling first, :mod:`django_redis_patterns.client.spin`);
    ``poll_us=0`` sleeps in ``recv`` at once, as redis-py does.
    """

    def __init__(self, host: str, port: int, poll_us: int = spin.DEFAULT_SPIN_WAIT_US):
        import socket

        import hiredis

        self._sock = socket.create_connection((host, port))
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._pack = hiredis.pack_command
        self._reader = hiredis.Reader()
        self._spinner = spin.Spinner(poll_us) if poll_us else None

    def call(self, *args: Any) -> Any:
        self._sock.sendall(self._pack(args))
        if self._spinner is not None:
            self._spinner.wait(self)
        reader = self._reader
        reply = reader.gets()
        while reply is False:
            reader.feed(self._sock.recv(65536))
            reply = reader.gets()
        if isinstance(reply, Exception):
            raise reply
        return reply


class CpuWakeLatency:
    """Hold the kernel's CPU wake-up latency target at 0 µs while benchmarks run.

    What ``pyperf system tune`` (and tuned's latency-performance profile) do for
    micro-benchmarks. Why it matters here: on an idle virtual CPU the guest halts, and
    waking it for a reply costs a VM exit, which on this kind of machine adds 50-80 µs to
    every loopback round trip (measured: a raw-socket GET took 63-70 µs untuned, 15-18 µs
    tuned). That wait is the same for every contender and says nothing about any of them,
    but it dilutes every ratio towards 1. ``python -m bench.run --no-tune`` measures the
    untuned machine; docs/benchmarks.md reports both.

    Needs write access to /dev/cpu_dma_latency (root); without it the run is untuned and
    says so. The setting lasts while the file is open, so it ends with the run.
    """

    PATH = "/dev/cpu_dma_latency"

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.state = "untuned (--no-tune)"
        self._fd: int | None = None

    def __enter__(self) -> CpuWakeLatency:
        if self.enabled:
            try:
                fd = os.open(self.PATH, os.O_WRONLY)
            except OSError as exc:
                self.state = f"untuned ({self.PATH}: {exc.strerror})"
            else:
                os.write(fd, struct.pack("i", 0))
                self._fd = fd
                self.state = "tuned (cpu_dma_latency=0)"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass
class Row:
    title: str
    contender: str
    ops_per_sec: float
    ratio: float | None  # ours / this contender; None for ours
    note: str = ""


@dataclass
class Context:
    quick: bool = False
    #: CPU wake-up latency state of the run (see :class:`CpuWakeLatency`).
    tuning: str = "untuned"
    #: The run's loopback round trip (µs), measured at the start (:meth:`round_trip_us`).
    round_trip: float | None = None
    rows: list[Row] = field(default_factory=list)
    _groups: dict[str, Any] = field(default_factory=dict)
    _extra: list[Any] = field(default_factory=list)

    # -- servers -------------------------------------------------------------------
    @property
    def standalone(self) -> servers.Standalone:
        if "standalone" not in self._groups:
            self._groups["standalone"] = servers.Standalone()
        return self._groups["standalone"]  # type: ignore[no-any-return]

    @property
    def url(self) -> str:
        return self.standalone.url

    def redis(self, **kw: Any) -> redis.Redis:
        return redis.Redis.from_url(self.url, **kw)

    def raw(self, poll_us: int = spin.DEFAULT_SPIN_WAIT_US) -> RawSocket:
        """A client-less socket to the bench server: the ceiling for any Python client."""
        return RawSocket(self.standalone.servers[0].host, self.standalone.servers[0].port, poll_us)

    def extra_servers(self, n: int) -> list[servers.Standalone]:
        """``n`` more independent standalone servers (e.g. for Redlock)."""
        made = [servers.Standalone() for _ in range(n)]
        self._extra.extend(made)
        return made

    def cluster(self) -> servers.Cluster:
        if "cluster" not in self._groups:
            self._groups["cluster"] = servers.Cluster()
        return self._groups["cluster"]  # type: ignore[no-any-return]

    def stop(self) -> None:
        for group in [*self._groups.values(), *self._extra]:
            group.stop()

    def redis_version(self) -> str:
        return str(self.redis().info("server")["redis_version"])

    def round_trip_us(self, calls: int = 3000) -> float:
        """Median loopback round trip of a raw-socket GET sleeping in ``recv``, in µs."""
        raw = self.raw(poll_us=0)
        rounds = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(calls):
                raw.call("GET", "bench:rtt")
            rounds.append((time.perf_counter() - started) / calls * 1e6)
        return statistics.median(rounds)

    # -- measuring ----------------------------------------------------------------
    def _rounds(self, number: int, repeat: int) -> tuple[int, int]:
        if self.quick:
            return max(1, number // 5), max(3, repeat // 2)
        return number, repeat

    def _round_sync(self, fn: Callable[[], Any], number: int, ops: int) -> float:
        started = time.perf_counter()
        for _ in range(number):
            fn()
        return number * ops / (time.perf_counter() - started)

    async def _round_async(self, fn: Callable[[], Awaitable[Any]], number: int, ops: int) -> float:
        started = time.perf_counter()
        for _ in range(number):
            await fn()
        return number * ops / (time.perf_counter() - started)

    def compare(
        self,
        title: str,
        contenders: dict[str, Callable[[], Any]],
        *,
        number: int = 2000,
        repeat: int = 7,
        ops: int = 1,
        is_async: bool = False,
        notes: dict[str, str] | None = None,
    ) -> dict[str, float]:
        """Measure each contender (first = ours); record ops/s and ratios. Returns ops/s.

        Rounds are interleaved (ours, them, ours, them...) so drift in machine load hits
        every contender alike; the median round of each is kept as its ops/s, and the ratio
        is the median of the rounds' paired ratios.
        """
        number, repeat = self._rounds(number, repeat)
        samples: dict[str, list[float]] = {name: [] for name in contenders}
        warm = max(5, number // 10)
        if is_async:

            async def main() -> None:
                for fn in contenders.values():
                    await self._round_async(fn, warm, ops)
                for _ in range(repeat):
                    for name, fn in contenders.items():
                        samples[name].append(await self._round_async(fn, number, ops))

            asyncio.run(main())
        else:
            for fn in contenders.values():
                self._round_sync(fn, warm, ops)
            gc.disable()
            try:
                for _ in range(repeat):
                    for name, fn in contenders.items():
                        samples[name].append(self._round_sync(fn, number, ops))
            finally:
                gc.enable()
        rates = {name: statistics.median(values) for name, values in samples.items()}
        ours_name = next(iter(contenders))
        for name, rate in rates.items():
            # The ratio is the median of the per-round ratios: ours and theirs ran back to back
            # in each round, so a drift in the machine's load hits both sides of every pair.
            ratio = (
                None
                if name == ours_name
                else statistics.median(o / t for o, t in zip(samples[ours_name], samples[name], strict=True))
            )
            self.rows.append(Row(title, name, rate, ratio, (notes or {}).get(name, "")))
            shown = "" if ratio is None else f"  ratio ours/them {ratio:5.2f}x"
            print(f"  {title:<42} {name:<28} {rate:12,.0f} ops/s{shown}", flush=True)
        return rates

    def record(self, title: str, contender: str, value: float, note: str = "") -> None:
        """Record a non-throughput figure (latency, bytes); printed as is."""
        self.rows.append(Row(title, contender, value, None, note))
        print(f"  {title:<42} {contender:<28} {value:12,.2f} {note}", flush=True)

    # -- reporting ----------------------------------------------------------------
    def markdown(self) -> str:
        lines = ["| operation | contender | ops/s | ours/them |", "|---|---|---:|---:|"]
        for r in self.rows:
            ratio = "" if r.ratio is None else f"{r.ratio:.2f}×"
            value = f"{r.ops_per_sec:,.0f}" if not r.note else f"{r.ops_per_sec:,.2f} {r.note}"
            lines.append(f"| {r.title} | {r.contender} | {value} | {ratio} |")
        return "\n".join(lines)

    def save(self, name: str) -> Path:
        RESULTS_DIR.mkdir(exist_ok=True)
        path = RESULTS_DIR / f"{name}.json"
        path.write_text(
            json.dumps(
                {
                    "date": date.today().isoformat(),
                    "redis": self.redis_version(),
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "tuning": self.tuning,
                    "round_trip_us": self.round_trip,
                    "rows": [r.__dict__ for r in self.rows],
                },
                indent=1,
            )
        )
        return path
