"""manage.py redis_status: every alias described; exit 1 with one line per unreachable alias."""

from __future__ import annotations

import io
import re
from typing import Any

from django.core.management import call_command
from django.test import override_settings

OURS = "django_redis_patterns.cache.RedisCache"


def status(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        call_command("redis_status", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_every_topology_is_described(standalone_server: Any, sentinel_group: Any, cluster: Any) -> None:
    caches = {
        "default": {"BACKEND": OURS, "LOCATION": standalone_server.url},
        "sentinel": {"BACKEND": OURS, "LOCATION": sentinel_group.url},
        "cluster": {"BACKEND": OURS, "LOCATION": cluster.url},
        "builtin": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": standalone_server.url},
        "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    with override_settings(CACHES=caches):
        code, out, err = status()
    assert code == 0, err
    assert "default: standalone" in out and "role master" in out
    assert re.search(r"version \d+\.\d+\.\d+", out), out
    primary = sentinel_group.current_primary()
    assert f"sentinel service 'mymaster': primary 127.0.0.1:{primary.port}" in out
    assert "replicas: 127.0.0.1:" in out
    assert "cluster: cluster" in out and "all 16384 slots covered" in out
    assert out.count("node 127.0.0.1:") == 6
    assert "builtin: standalone" in out
    assert "local" not in out


def test_unreachable_alias_exits_1_with_one_line(standalone_server: Any) -> None:
    caches = {
        "default": {"BACKEND": OURS, "LOCATION": standalone_server.url},
        "down": {"BACKEND": OURS, "LOCATION": "redis://127.0.0.1:1/0"},
    }
    with override_settings(CACHES=caches):
        code, out, err = status()
    assert code == 1
    assert "default: standalone" in out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("down: unreachable: ConnectionError")
    assert "Traceback" not in err


def test_selected_alias_only(standalone_server: Any) -> None:
    caches = {
        "default": {"BACKEND": OURS, "LOCATION": standalone_server.url},
        "down": {"BACKEND": OURS, "LOCATION": "redis://127.0.0.1:1/0"},
    }
    with override_settings(CACHES=caches):
        code, out, _ = status("default")
    assert code == 0 and "default: standalone" in out
