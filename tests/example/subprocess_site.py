"""Run the example project's own settings (arcade.settings) in subprocesses.

Tests that need several processes (close_season on "several servers", the load bench, gunicorn)
cannot share pytest's in-memory test database, so they get a file database (SQLite, or a
throw-away PostgreSQL database when ``DRP_TEST_DATABASE=postgres``) migrated by a
subprocess, and REDIS_URL pointing at the test topology.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "example_project"


def env(redis_url: str, database_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "arcade.settings",
        "PYTHONPATH": os.pathsep.join([str(EXAMPLE), str(ROOT)]),
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": "arcade-tests-secret-key-not-for-production-4f8a1c2e9b7d",
        **extra,
    }


def manage(environ: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE / "manage.py"), *args],
        env=environ,
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


@contextlib.contextmanager
def database(tmp_path: Path) -> Iterator[str]:
    """A DATABASE_URL for a fresh database (PostgreSQL when DRP_TEST_DATABASE=postgres)."""
    if os.environ.get("DRP_TEST_DATABASE") != "postgres":
        yield f"sqlite:///{tmp_path / 'arcade.sqlite3'}"
        return
    import psycopg

    name = f"arcade_{uuid.uuid4().hex[:12]}"
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(environ: dict[str, str], port: int, log: Path, *, workers: int = 2) -> subprocess.Popen[bytes]:
    """The arcade under gunicorn (sync workers) in its own process group, once it answers ``GET /``;
    stop it with ``os.killpg(server.pid, signal.SIGTERM)``."""
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "arcade.wsgi:application",
                "-w",
                str(workers),
                "-b",
                f"127.0.0.1:{port}",
            ],
            cwd=EXAMPLE,
            env=environ,
            start_new_session=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    os.killpg(server.pid, signal.SIGKILL)
    raise AssertionError("gunicorn did not serve the arcade within 60 s")
