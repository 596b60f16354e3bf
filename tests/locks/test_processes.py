"""Mutual exclusion and stalls with real processes."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from django_redis_patterns.locks import lock
from tests.locks.conftest import ROOT, child_env, wait_file
from tests.topologies import all_topologies

PROCESSES = 8
ITERATIONS = 50


@all_topologies
def test_eight_processes_increment_a_file_under_the_lock(topology: Any, tmp_path: Path) -> None:
    (tmp_path / "counter").write_text("0")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.locks.worker", "mutex", str(tmp_path), str(ITERATIONS)],
            env=child_env(topology.url),
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    (tmp_path / "go").write_text("")  # the barrier: every child starts its loop on this file
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    assert (tmp_path / "counter").read_text() == str(PROCESSES * ITERATIONS)
    lines = (tmp_path / "log").read_text().splitlines()
    assert len(lines) == 2 * PROCESSES * ITERATIONS
    fences = []
    for enter, leave in zip(lines[::2], lines[1::2], strict=True):
        # No overlap: every "enter" is immediately followed by the same holder's "exit".
        assert enter.split()[0] == "enter" and leave.split()[0] == "exit"
        assert enter.split()[1:] == leave.split()[1:]
        fences.append(int(enter.split()[2]))
    assert all(a < b for a, b in itertools.pairwise(fences)), "fencing tokens not strictly increasing"


@all_topologies
def test_sigstopped_holder_loses_the_lock_and_learns_it(topology: Any, tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.locks.worker", "hold", str(tmp_path), "1"],
        env=child_env(topology.url),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_file(tmp_path / "held", child)
        child.send_signal(signal.SIGSTOP)  # renewer thread and all: the whole process stalls
        with lock("stalled", ttl=30, timeout=30) as held:
            assert held.fencing_token > int((tmp_path / "fence").read_text())
            child.send_signal(signal.SIGCONT)
            (tmp_path / "go").write_text("")
            out, err = child.communicate(timeout=60)
            assert held.held  # the resumed process did not release our lock
        assert child.returncode == 0, err
        assert "HELD_AFTER_RESUME False" in out
        assert out.strip().endswith("LOST")
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGCONT)
            child.kill()
