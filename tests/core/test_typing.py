"""``get_redis``/``aget_redis`` are typed: mypy, run on a user's snippet, sees redis-py's classes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

USER_CODE = """\
from typing import assert_type

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster

from django_redis_patterns import aget_redis, get_redis


def sync_use() -> None:
    assert_type(get_redis(), redis.Redis | redis.cluster.RedisCluster)
    assert_type(get_redis("sessions", replica=True), redis.Redis | redis.cluster.RedisCluster)
    client = get_redis()
    if isinstance(client, redis.cluster.RedisCluster):
        client.get_nodes()  # Cluster-only API after narrowing; an error on the union


async def async_use() -> None:
    assert_type(await aget_redis(), redis.asyncio.Redis | redis.asyncio.cluster.RedisCluster)
    assert_type(await aget_redis("locks", replica=True), redis.asyncio.Redis | redis.asyncio.cluster.RedisCluster)
"""


def mypy(tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "user_code.py").write_text(textwrap.dedent(code))
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--config-file=",
        "--follow-imports=silent",
        "--ignore-missing-imports",
        "--python-version=3.11",
        f"--cache-dir={tmp_path / 'cache'}",
        "user_code.py",
    ]
    env = {**os.environ, "MYPYPATH": str(REPO)}
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_get_redis_and_aget_redis_return_redis_py_clients(tmp_path: Path) -> None:
    done = mypy(tmp_path, USER_CODE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout


def test_cluster_only_api_needs_narrowing(tmp_path: Path) -> None:
    done = mypy(tmp_path, USER_CODE + "\n\ndef careless() -> None:\n    get_redis().get_nodes()\n")
    assert done.returncode == 1
    assert 'Item "Redis" of "Redis | RedisCluster" has no attribute "get_nodes"' in done.stdout, done.stdout


def test_a_wrong_expectation_is_caught(tmp_path: Path) -> None:
    # The harness itself: had get_redis been typed Any (or anything else), assert_type fails.
    done = mypy(tmp_path, USER_CODE.replace("assert_type(get_redis(), redis.Redis | ", "assert_type(get_redis(), "))
    assert done.returncode == 1
    assert 'Expression is of type "Redis | RedisCluster", not "RedisCluster"' in done.stdout, done.stdout
