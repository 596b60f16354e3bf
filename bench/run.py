"""Run benchmarks: ``python -m bench.run [NAME ...] [--quick]``.

NAME is a module ``bench/bench_NAME.py`` (default: all). Starts its own redis-server,
prints each comparison as it goes and a Markdown table at the end (paste it into
docs/benchmarks.md), and saves JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from datetime import date
from pathlib import Path

import django

from .harness import Context, CpuWakeLatency

HERE = Path(__file__).parent


def available() -> list[str]:
    return sorted(p.stem[len("bench_") :] for p in HERE.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {', '.join(available())})")
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    parser.add_argument(
        "--no-tune",
        action="store_true",
        help="leave the CPU wake-up latency alone (default: hold /dev/cpu_dma_latency at 0 during the run)",
    )
    args = parser.parse_args(argv)
    names = args.names or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(available())}")

    ctx = Context(quick=args.quick)
    with CpuWakeLatency(enabled=not args.no_tune) as tuning:
        ctx.tuning = tuning.state
        return _run(ctx, names, args.names)


def _run(ctx: Context, names: list[str], named: list[str]) -> int:
    try:
        os.environ["BENCH_REDIS_URL"] = ctx.url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
        django.setup()
        ctx.round_trip = ctx.round_trip_us()
        print(
            f"# benchmarks {date.today()} on Redis {ctx.redis_version()}, Python {sys.version.split()[0]}, "
            f"{os.cpu_count()} CPUs, {ctx.tuning}; loopback round trip {ctx.round_trip:.1f} µs",
            flush=True,
        )
        for name in names:
            started = time.monotonic()
            print(f"\n## {name}", flush=True)
            module = importlib.import_module(f"bench.bench_{name}")
            module.run(ctx)
            print(f"  ({time.monotonic() - started:.1f} s)", flush=True)
        print("\n" + ctx.markdown())
        path = ctx.save("-".join(names) if named else "all")
        print(f"\nsaved {path}")
    finally:
        ctx.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
