"""The benchmarks stay runnable: every bench module imports, and every competitor it times
is installed by the `bench` extra (a missing one once broke `python -m bench.run`)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
MODULES = sorted(p.stem for p in BENCH.glob("bench_*.py"))
#: Import names of the packages the benchmarks compare against (pyproject's `bench` extra).
COMPETITORS = ["django_redis", "django_ratelimit", "redis_sessions", "limits", "redis_lock", "pottery", "leaderboard"]
#: What the example's load benchmark serves and drives it with.
SERVERS = ["gunicorn"]


def test_every_benchmark_is_found() -> None:
    assert {"cache", "connection", "example_load", "leaderboard", "locks", "ratelimit", "sessions"} <= {
        m.removeprefix("bench_") for m in MODULES
    }


@pytest.mark.parametrize("name", MODULES)
def test_bench_module_imports_and_has_run(name: str) -> None:
    module = importlib.import_module(f"bench.{name}")
    assert callable(module.run)


@pytest.mark.parametrize("name", COMPETITORS + SERVERS)
def test_competitor_is_installed(name: str) -> None:
    importlib.import_module(name)
