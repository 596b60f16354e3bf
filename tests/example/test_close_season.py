"""``close_season`` started on five "servers" at once writes exactly one snapshot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.example import subprocess_site
from tests.topologies import all_topologies

RACERS = 5

# Each racer sets Django up, then waits on a file barrier so the five commands really start
# together (Django's start-up time would otherwise spread them apart).
RACER = """
import os, sys, time, io
from pathlib import Path
import django
django.setup()
from django.core.management import call_command
barrier, index, total = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
(barrier / index).touch()
deadline = time.monotonic() + 60
while len(list(barrier.iterdir())) < total and time.monotonic() < deadline:
    time.sleep(0.005)
out = io.StringIO()
call_command("close_season", "--top", "3", stdout=out, stderr=out)
print(out.getvalue())
"""


@pytest.mark.postgres
@all_topologies
def test_five_concurrent_close_season_write_one_snapshot(topology: Any, tmp_path: Path) -> None:
    with subprocess_site.database(tmp_path) as database_url:
        env = subprocess_site.env(topology.url, database_url)
        subprocess_site.manage(env, "migrate", "--noinput", "-v", "0")
        subprocess_site.manage(env, "seed_arcade", "--players", "40", "--seed", "7", "-v", "0")
        barrier = tmp_path / "barrier"
        barrier.mkdir()
        racers = [
            subprocess.Popen(
                [sys.executable, "-c", RACER, str(barrier), str(i), str(RACERS)],
                env=env,
                cwd=subprocess_site.EXAMPLE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(RACERS)
        ]
        results = [(p.wait(timeout=120), *p.communicate()) for p in racers]
        report = "\n".join(f"rc={rc}\n{out}{err}" for rc, out, err in results)
        assert [rc for rc, _, _ in results] == [0] * RACERS, report
        closed = [out for _, out, _ in results if " closed, 3 winners kept" in out]
        assert len(closed) == 1, report
        others = [out for _, out, _ in results if out not in closed]
        assert all("skipped: close_season is already running" in o or "closed already" in o for o in others), report

        count = subprocess_site.manage(
            env,
            "shell",
            "-v",
            "0",
            "-c",
            "from arcade.models import SeasonSnapshot, SeasonWinner;"
            "print(SeasonSnapshot.objects.count(), SeasonWinner.objects.count())",
        )
        assert count.stdout.split() == ["1", "3"]
