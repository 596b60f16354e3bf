"""Run the example project's own settings (arcade.settings) in subprocesses.

Tests that need several processes (close_season on "several servers", the load bench)
cannot share pytest's in-memory test database, so they get a file database (SQLite, or a
throw-away PostgreSQL database when ``DRP_TEST_DATABASE=postgres``) migrated by a
subprocess, and REDIS_URL pointing at the test topology.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
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
