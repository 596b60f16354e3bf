"""Django's own SessionTestsMixin (from the installed Django's sdist) passes against our engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.django_sdist import django_tests_dir
from tests.topologies import all_topologies

ROOT = Path(__file__).resolve().parents[2]


@all_topologies
def test_django_session_suite(topology: Any) -> None:
    django_tests_dir()  # fetch once, outside the subprocess
    location = topology.location if isinstance(topology.location, str) else ",".join(topology.location)
    env = {**os.environ, "DRP_SESSIONS_LOCATION": location, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    proc = subprocess.run(
        [sys.executable, "-m", "tests.sessions.django_suite"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    output = proc.stdout + proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0, output
    # Every test of the mixin ran (65 in Django 5.2) and none was skipped.
    assert summary["run"] >= 60, output
    assert summary["failures"] == summary["errors"] == summary["skipped"] == summary["expected_failures"] == 0, output
