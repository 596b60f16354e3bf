"""The benchmarks stay runnable: every bench module imports, and every competitor it times
is installed by the `bench` extra (a missing one once broke `python -m bench.run`)."""

from __future__ import annotations

import importlib
import struct
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
MODULES = sorted(p.stem for p in BENCH.glob("bench_*.py"))
#: Import names of the packages the benchmarks compare against (pyproject's `bench` extra).
COMPETITORS = ["django_redis", "django_ratelimit", "redis_sessions", "limits", "redis_lock", "pottery", "leaderboard"]
#: What the example's load benchmark serves and drives it with.
SERVERS = ["gunicorn"]
#: What bench_observability measures with.
INSTRUMENTS = ["prometheus_client", "opentelemetry.sdk"]


def test_every_benchmark_is_found() -> None:
    assert {
        "cache",
        "connection",
        "example_load",
        "leaderboard",
        "locks",
        "observability",
        "ratelimit",
        "sessions",
    } <= {m.removeprefix("bench_") for m in MODULES}


@pytest.mark.parametrize("name", MODULES)
def test_bench_module_imports_and_has_run(name: str) -> None:
    module = importlib.import_module(f"bench.{name}")
    assert callable(module.run)


@pytest.mark.parametrize("name", COMPETITORS + SERVERS + INSTRUMENTS)
def test_competitor_is_installed(name: str) -> None:
    importlib.import_module(name)


def test_cpu_wake_latency_is_held_for_the_run_only_and_reported(tmp_path: Path) -> None:
    from bench.harness import CpuWakeLatency

    # A stand-in file for the kernel's: the value written is a native int, 0 (µs).
    target = tmp_path / "cpu_dma_latency"
    target.write_bytes(b"")
    tuning = CpuWakeLatency()
    tuning.PATH = str(target)
    with tuning:
        assert tuning.state == "tuned (cpu_dma_latency=0)"
        assert tuning._fd is not None
        assert target.read_bytes() == struct.pack("i", 0)
    assert tuning._fd is None  # closed: the kernel drops the request with the file

    missing = CpuWakeLatency()
    missing.PATH = str(tmp_path / "absent")
    with missing:
        assert missing.state.startswith("untuned (") and "No such file" in missing.state
    with CpuWakeLatency(enabled=False) as off:
        assert off.state == "untuned (--no-tune)"
