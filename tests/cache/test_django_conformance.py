"""Django's own cache test suite (BaseCacheTests from the installed version's sdist) passes.

Each run is a subprocess (``tests/cache/django_conformance.py``): Django's suite needs
its own settings and test app. Only the cull tests are skipped, by Django itself, because
its Redis layout excludes the cull caches (``redis_excluded_caches``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.django_sdist import django_tests_dir
from tests.topologies import standalone_and_cluster

ROOT = Path(__file__).resolve().parents[2]
CULL_TESTS = ["test_cull", "test_cull_delete_when_store_empty", "test_zero_cull"]
# Pickling a lazy QuerySet runs a query; Django forbids sync queries inside an event loop,
# and our aset() pickles on the loop (no thread hop). Django's own aset() hops to a thread.
ASYNC_ONLY_ERRORS = [
    "test_cache_read_for_model_instance_with_deferred",
    "test_cache_write_for_model_instance_with_deferred",
]


def _run(location: Any, *extra: str) -> tuple[dict[str, Any], str]:
    django_tests_dir()  # fetch once, outside the subprocess's time
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    proc = subprocess.run(
        [sys.executable, "-m", "tests.cache.django_conformance", "--location", json.dumps(location), *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"the conformance runner printed no summary:\n{output}"
    return json.loads(lines[-1]), output


@standalone_and_cluster
def test_django_cache_suite_passes(topology: Any) -> None:
    summary, output = _run(topology.location)
    assert summary["failures"] == [], output
    assert summary["errors"] == [], output
    assert summary["skipped"] == CULL_TESTS, output
    assert summary["ran"] >= 50, output


@standalone_and_cluster
def test_django_cache_suite_passes_through_async_methods(topology: Any) -> None:
    summary, output = _run(topology.location, "--async-bridge")
    assert summary["failures"] == [], output
    assert sorted(summary["errors"]) == ASYNC_ONLY_ERRORS, output
    assert output.count("SynchronousOnlyOperation: You cannot call this from an async context") == 2, output
    assert summary["skipped"] == CULL_TESTS, output
    assert summary["ran"] >= 50, output
