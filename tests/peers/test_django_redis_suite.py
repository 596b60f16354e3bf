"""django-redis's own test suite passes against our backend, but for a listed, explained few.

django-redis's ``tests/`` come from its sdist at the installed (locked) version
(:func:`tests.sdist.sdist_tree`); nothing of it is copied here. Each settings variant runs in
a pytest subprocess of its own (Django reads settings once per process), with the shim
``django_redis_shim.py`` swapping only ``BACKEND`` and pointing the servers at private ones:

* ``plain`` (django-redis's ``settings/sqlite.py``: a primary + replica LOCATION list) on a
  private standalone server, with the tests that take no settings module too;
* ``json`` (``settings/sqlite_json.py``: django-redis's ``JSONSerializer`` class) likewise;
* ``sentinel`` and ``sentinel_opts`` (``SENTINELS`` + ``SentinelClient`` /
  ``SentinelConnectionFactory``, ``LOCATION = "redis://<service>/<db>"``) on the private
  Sentinel group: django-redis's Sentinel settings, unchanged, mapped onto our Sentinel support.

The sharding settings (``ShardClient``) are refused by system check ``redis_patterns.E009``
(tested below with django-redis's own settings module) rather than run.

Every test not in ``django_redis_excluded.EXCLUDED`` must pass (a skip does not count);
every excluded test must still be collected, and one that passes is printed so the list
can shrink.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import runpy
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from django_redis_patterns.testing import servers
from tests.peers.django_redis_excluded import EXCLUDED
from tests.peers.report import report_peer
from tests.sdist import sdist_tree

HERE = Path(__file__).resolve().parent
OUR_BACKEND = "django_redis_patterns.cache.RedisCache"
VERSION = importlib.metadata.version("django-redis")


def run_suite(variant: str, env: dict[str, str], *, unparametrized: bool = False) -> tuple[dict[str, str], str]:
    """Run django-redis's suite for one settings module; (test -> outcome, output)."""
    root = sdist_tree("django-redis")
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        child_env = {
            **os.environ,
            **env,
            "PYTHONPATH": str(HERE),  # the shim, as a top-level module: django-redis's tests are a "tests" package too
            "DRP_PEER_SDIST": str(root),
            "DRP_PEER_VARIANT": variant,
            "DRP_PEER_BACKEND": env.get("DRP_PEER_BACKEND", OUR_BACKEND),
            "DRP_PEER_REPORT": str(report),
            "DRP_PEER_UNPARAMETRIZED": "1" if unparametrized else "0",
        }
        child_env.pop("DJANGO_SETTINGS_MODULE", None)
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "django_redis_shim",
                "-p",
                "no:django",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:asyncio",
                "-o",
                "addopts=",  # django-redis's: coverage and xdist
                "-q",
                "--rootdir",
                str(root),
                "-c",
                str(root / "pyproject.toml"),
                "tests",
            ],
            cwd=root,
            env=child_env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        output = proc.stdout + proc.stderr
        assert report.exists(), f"django-redis's suite wrote no report:\n{output}"
        return json.loads(report.read_text()), output


def check(label: str, outcomes: dict[str, str], output: str, *, all_excluded_collected: bool) -> None:
    failed = sorted(name for name, outcome in outcomes.items() if outcome == "failed" and name not in EXCLUDED)
    skipped = sorted(name for name, outcome in outcomes.items() if outcome == "skipped")
    now_passing = sorted(name for name, outcome in outcomes.items() if outcome == "passed" and name in EXCLUDED)
    passed = sum(1 for name, outcome in outcomes.items() if outcome == "passed" and name not in EXCLUDED)
    excluded = sum(1 for name in outcomes if name in EXCLUDED)
    line = f"django-redis {VERSION} {label}: {passed} passed, {excluded} excluded"
    if now_passing:
        line += f" (excluded but passing now, take off the list: {', '.join(now_passing)})"
    report_peer(line)
    print(line)
    assert outcomes, f"{label}: no test ran\n{output}"
    assert failed == [], f"{line}; failed: {failed}\n{output}"
    assert skipped == [], f"{line}; skipped (not counted as passing): {skipped}\n{output}"
    if all_excluded_collected:
        gone = sorted(set(EXCLUDED) - set(outcomes))
        assert gone == [], f"{line}; excluded tests no longer collected (remove them from the list): {gone}"


def test_plain_client_settings(redis_factory: Any) -> None:
    server = redis_factory("standalone")
    outcomes, output = run_suite("sqlite", {"DRP_PEER_REDIS": server.primary.address}, unparametrized=True)
    check("plain", outcomes, output, all_excluded_collected=True)
    assert len(outcomes) >= 190, output  # django-redis 7.0.0 collects 197 here


def test_json_serializer_settings(redis_factory: Any) -> None:
    """django-redis's own JSONSerializer class as SERIALIZER, through our codec."""
    server = redis_factory("standalone")
    outcomes, output = run_suite("sqlite_json", {"DRP_PEER_REDIS": server.primary.address})
    check("json", outcomes, output, all_excluded_collected=False)
    assert len(outcomes) >= 150, output  # django-redis 7.0.0 collects 165 here


@pytest.mark.parametrize("variant", ["sqlite_sentinel", "sqlite_sentinel_opts"])
def test_sentinel_settings(variant: str, sentinel_group: servers.SentinelGroup) -> None:
    servers.flush(sentinel_group)
    env = {
        "DRP_PEER_SENTINELS": ",".join(s.address for s in sentinel_group.sentinels),
        "DRP_PEER_SERVICE": sentinel_group.service,
    }
    outcomes, output = run_suite(variant, env)
    check(variant.replace("sqlite_", ""), outcomes, output, all_excluded_collected=False)
    assert len(outcomes) >= 150, output  # django-redis 7.0.0 collects 165 per Sentinel variant


def test_sharding_settings_are_refused_by_a_system_check(settings: Any, standalone_server: Any) -> None:
    """django-redis's own ShardClient settings, BACKEND swapped: E009 on each alias, naming
    CLIENT_CLASS and Redis Cluster; and the backend refuses every call instead of missing."""
    from django.core.cache import caches
    from django.core.checks import run_checks

    shard = runpy.run_path(str(sdist_tree("django-redis") / "tests" / "settings" / "sqlite_sharding.py"))
    settings.CACHES = {
        alias: {**config, "BACKEND": OUR_BACKEND} for alias, config in shard["CACHES"].items() if alias == "default"
    }
    errors = [e for e in run_checks() if e.id == "redis_patterns.E009"]
    assert len(errors) == 1, errors
    assert "CLIENT_CLASS" in errors[0].msg and "ShardClient" in errors[0].msg and "redis+cluster://" in errors[0].msg
    with pytest.raises(Exception, match="ShardClient"):
        caches["default"].get("key")
