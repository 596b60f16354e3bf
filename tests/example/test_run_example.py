"""The README's first command: ./scripts/run-example sets everything up and serves the arcade,
on one private Redis that keeps its data and that every manage.py finds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from django_redis_patterns.testing.servers import free_port
from tests.example.test_browser import sign_up

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "example_project"


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


def _environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A second terminal's environment: no REDIS_URL, no settings module; the private Redis's
    folder and the database in tmp_path (example_project/.redis is the developer's)."""
    env = {
        **os.environ,
        "ARCADE_REDIS_DIR": str(tmp_path / "redis"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'arcade.sqlite3'}",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    env.pop("REDIS_URL", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


class Run:
    """One ./scripts/run-example, in its own process group (as in a terminal)."""

    def __init__(self, tmp_path: Path, name: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"{name}.log"
        self.log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [str(ROOT / "scripts" / "run-example"), "--noreload"],
            env=_environ(tmp_path, PORT=str(self.port)),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_serving(self) -> None:
        deadline = time.monotonic() + 240  # migrate + seed 1000 players on a busy 2-core machine
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if _get(f"{self.base}/leaderboard/")[0] == 200:
                    return
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"run-example never served {self.base}:\n{self.output()}")

    def stop(self) -> None:
        """What Ctrl-C does: a signal to the whole process group."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.log.close()


@pytest.fixture
def runs(tmp_path: Path) -> Iterator[Any]:
    started: list[Run] = []

    def start(name: str) -> Run:
        run = Run(tmp_path, name)
        started.append(run)
        run.wait_until_serving()
        return run

    yield start
    for run in reversed(started):
        run.stop()


def _manage(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python manage.py ...`` from a second terminal (cwd example_project, no REDIS_URL)."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=EXAMPLE,
        env=_environ(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_run_example_sets_up_and_serves_the_site(tmp_path: Path, runs: Any) -> None:
    run = runs("first")
    status, body = _get(f"{run.base}/leaderboard/")
    assert status == 200 and b"eaderboard" in body
    assert "private redis-server" in run.output()
    assert _get(f"{run.base}/")[0] == 200


@pytest.mark.slow
def test_a_new_players_first_hour(tmp_path: Path, runs: Any, browser: Any, artifacts: Any) -> None:
    """Sign up in a browser, play, see yourself on the board; stop, start again: still there;
    close_season from a second terminal closes the season on the same Redis."""
    first = runs("first")
    page = browser.new_context().new_page()
    sign_up(page, first.base, "newbie")
    assert page.inner_text("#whoami") == "newbie"
    for _ in range(3):
        with page.expect_navigation() as navigation:
            page.click("#play")
        assert navigation.value.status == 200
    page.goto(f"{first.base}/leaderboard/")
    assert "newbie" in page.locator("#around tr.me").inner_text()
    page.screenshot(path=artifacts("1-on-the-board"))
    env_file = tmp_path / "redis" / "env"
    redis_pid = int(env_file.read_text().split("REDIS_PID=")[1].split()[0])
    first.stop()  # Ctrl-C stops the redis-server it started (its data stays on disk)
    with pytest.raises(ProcessLookupError):
        os.kill(redis_pid, 0)
    assert not env_file.exists()

    # Nothing runs now: a command says so instead of using another Redis.
    stopped = _manage(tmp_path, "close_season")
    assert stopped.returncode == 1
    assert "private redis-server is not running" in stopped.stderr and "./scripts/run-example" in stopped.stderr

    # Started again: the same data (the session and the board live only in Redis).
    second = runs("second")
    assert "private redis-server (" in second.output()  # a new process, on the data of the first
    page.goto(f"{second.base}/leaderboard/")
    assert page.inner_text("#whoami") == "newbie"
    assert "newbie" in page.locator("#around tr.me").inner_text()
    assert "Nobody has played yet" not in page.content()
    page.screenshot(path=artifacts("2-after-a-restart"))

    # A second run-example reuses the running server, and stopping it leaves that server up.
    third = runs("third")
    assert "already running" in third.output() and "reusing it" in third.output()
    page.goto(f"{third.base}/leaderboard/")  # the session cookie is the host's: same sessions
    assert page.inner_text("#whoami") == "newbie"
    third.stop()
    page.goto(f"{second.base}/leaderboard/")
    assert "newbie" in page.locator("#around tr.me").inner_text()

    # close_season from a second terminal: the same Redis, so the week's players are kept.
    closed = _manage(tmp_path, "close_season", "--top", "100000")
    assert closed.returncode == 0, closed.stdout + closed.stderr
    kept = int(closed.stdout.split("closed, ")[1].split(" winners")[0])
    assert kept >= 1, closed.stdout
    page.goto(f"{second.base}/seasons/")
    assert "newbie" in page.inner_text(".season")
    page.screenshot(path=artifacts("3-season-closed"), full_page=True)


def test_without_redis_url_or_a_running_private_server_manage_py_says_how_to_start_one(tmp_path: Path) -> None:
    (tmp_path / "redis").mkdir()
    result = _manage(tmp_path, "close_season")
    assert result.returncode == 1 and not result.stdout
    assert result.stderr.startswith("manage.py: REDIS_URL is not set and the example's private redis-server is not")
    assert "./scripts/run-example" in result.stderr and "set REDIS_URL=" in result.stderr
    assert "Traceback" not in result.stderr
    # A server recorded by a run-example that was killed (no clean stop): the same answer.
    (tmp_path / "redis" / "env").write_text("REDIS_URL=redis://127.0.0.1:1/0\nREDIS_PID=999999999\n")
    result = _manage(tmp_path, "close_season")
    assert result.returncode == 1 and "private redis-server has stopped" in result.stderr


def test_run_example_never_reuses_a_server_that_is_not_its_own(tmp_path: Path, topology: Any) -> None:
    """A recorded port now served by another redis-server (ours stopped, the port was reused)."""
    (tmp_path / "redis").mkdir()
    (tmp_path / "redis" / "env").write_text(f"REDIS_URL={topology.url}\nREDIS_PID={os.getpid()}\n")
    result = subprocess.run(
        [sys.executable, "-m", "arcade.private_redis"],
        cwd=EXAMPLE,
        env=_environ(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{topology.url} is a redis-server serving" in result.stderr and str(tmp_path / "redis") in result.stderr
