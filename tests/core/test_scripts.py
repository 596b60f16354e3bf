"""The Lua registry: loaded once, EVALSHA, reload after NOSCRIPT, Cluster slot rules."""

from __future__ import annotations

from typing import Any

import pytest

from django_redis_patterns import aget_redis, get_redis
from django_redis_patterns.client import scripts
from django_redis_patterns.exceptions import ImproperlyConfigured
from tests.topologies import all_topologies


def test_scripts_are_loaded_once_from_package_files() -> None:
    first = scripts.load("ping")
    assert scripts.load("ping") is first
    assert "ping" in scripts.available()
    assert first.header["KEYS"] and first.header["ARGV"] and first.header["reply"]


def test_a_script_without_header_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="header comment"):
        scripts.Script("bad", source="return 1\n")


def test_missing_script_names_itself() -> None:
    with pytest.raises(ImproperlyConfigured, match="no Lua script 'nope'"):
        scripts.load("nope")


@all_topologies
def test_evalsha_and_reload_after_script_flush(topology: Any) -> None:
    client = get_redis()
    ping = scripts.load("ping")
    client.set("{t}k", "v")
    assert ping(client, ["{t}k"], ["hello"]) == [b"hello", b"v"]
    # A restarted or failed-over server has lost its script cache: NOSCRIPT -> EVAL.
    if topology.kind == "cluster":
        for node in client.get_primaries():
            client.execute_command("SCRIPT FLUSH", target_nodes=node)
    else:
        client.script_flush()
    assert ping(client, ["{t}k"], ["again"]) == [b"again", b"v"]
    # ... and the EVAL put it back in the server's cache, so EVALSHA works directly now.
    assert client.evalsha(ping.sha, 1, "{t}k", "x") == [b"x", b"v"]


@all_topologies
async def test_async_call(topology: Any) -> None:
    client = await aget_redis()
    ping = scripts.load("ping")
    await client.set("{t}a", "1")
    assert await ping.acall(client, ["{t}a"], ["x"]) == [b"x", b"1"]


def test_cluster_refuses_keys_in_different_slots(cluster: Any, settings: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": "django_redis_patterns.cache.RedisCache", "LOCATION": cluster.url}}
    client = get_redis()
    ping = scripts.load("ping")
    with pytest.raises(ImproperlyConfigured, match="hash tag"):
        ping(client, ["a", "b"], ["x"])
    assert ping(client, ["{same}a", "{same}b"], ["x"]) == [b"x", None]
