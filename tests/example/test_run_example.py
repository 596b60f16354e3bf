"""The README's first command: ./scripts/run-example sets everything up and serves the arcade."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from django_redis_patterns.testing.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


def test_run_example_sets_up_and_serves_the_site(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'arcade.sqlite3'}",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)  # the script starts its own redis-server
    env.pop("DJANGO_SETTINGS_MODULE", None)
    log = (tmp_path / "run-example.log").open("wb")
    proc = subprocess.Popen(
        [str(ROOT / "scripts" / "run-example"), "--noreload"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240  # migrate + seed 1000 players on a busy 2-core machine
        status, body = 0, b""
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/leaderboard/")
                break
            except OSError:
                time.sleep(0.5)
        output = (tmp_path / "run-example.log").read_text(errors="replace")
        assert status == 200, output
        assert b"Leaderboard" in body or b"leaderboard" in body
        assert "private redis-server" in output
        home_status, _ = _get(f"http://127.0.0.1:{port}/")
        assert home_status == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # what Ctrl-C does: the whole process group
        proc.wait(timeout=30)
        log.close()
