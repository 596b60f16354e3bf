"""Fixtures for the cache backend's tests."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import caches

from django_redis_patterns.client import connections


@pytest.fixture
def cache(topology: Any) -> Any:
    """``caches["default"]`` on the chosen (emptied) topology."""
    return caches["default"]


class Api:
    """Calls a backend's sync methods or their ``a``-twins behind one ``await``-able face.

    ``await api.get("k")`` runs ``cache.get`` (sync mode) or ``await cache.aget`` (async
    mode), so one test body checks both implementations.
    """

    def __init__(self, cache: Any, is_async: bool) -> None:
        self.cache = cache
        self.is_async = is_async

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if self.is_async:
            return getattr(self.cache, "a" + name)  # type: ignore[no-any-return]
        method = getattr(self.cache, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return method(*args, **kwargs)

        return call

    def __repr__(self) -> str:
        return "async" if self.is_async else "sync"


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, cache: Any) -> Api:
    return Api(cache, request.param == "async")


def point_default_at(settings: Any, location: Any, **config: Any) -> Any:
    """CACHES["default"] = our backend at ``location`` (+ KEY_PREFIX/OPTIONS...); returns the cache."""
    settings.CACHES = {
        **settings.CACHES,
        "default": {"BACKEND": "django_redis_patterns.cache.RedisCache", "LOCATION": location, **config},
    }
    connections.reset()
    return caches["default"]


def commandstats(clients: list[Any]) -> dict[str, int]:
    """Calls per command, summed over ``clients`` (INFO commandstats)."""
    totals: dict[str, int] = {}
    for client in clients:
        for name, stats in client.info("commandstats").items():
            command = name.removeprefix("cmdstat_")
            totals[command] = totals.get(command, 0) + int(stats["calls"])
    return totals


def reset_stats(clients: list[Any]) -> None:
    for client in clients:
        client.config_resetstat()


@contextlib.contextmanager
def counting(group: Any) -> Iterator[dict[str, int]]:
    """Count the commands the data nodes of ``group`` receive inside the block."""
    clients = group.data_clients()
    reset_stats(clients)
    counts: dict[str, int] = {}
    try:
        yield counts
        counts.update(commandstats(clients))
        counts.pop("config|resetstat", None)
        counts.pop("config", None)  # Redis < 7 does not split subcommands: the same CONFIG RESETSTAT
        counts.pop("info", None)
        counts.pop("replconf", None)  # replicas acknowledge replication once a second: not our calls
    finally:
        for client in clients:
            client.close()


def settle_cluster(group: Any, timeout: float = 20.0) -> None:
    """Wait until a just-formed Cluster has settled: every slot range lists its replica.

    For the first seconds after ``servers.Cluster()`` returns, CLUSTER SLOTS lists only the
    primaries (a client built then never reads from replicas), and bursts of commands from
    a new client may meet MOVED replies. A Cluster that has run a few seconds shows neither.
    """
    import time

    deadline = time.monotonic() + timeout
    for client in group.data_clients():
        with contextlib.closing(client):
            while time.monotonic() < deadline:
                ranges = client.execute_command("CLUSTER SLOTS")
                uptime = int(client.info("server")["uptime_in_seconds"])
                if uptime >= 3 and ranges and all(len(r) >= 4 for r in ranges):
                    break
                time.sleep(0.1)


@pytest.fixture(autouse=True)
def _settled_cluster(request: pytest.FixtureRequest) -> None:
    if "topology" in request.fixturenames:
        topology = request.getfixturevalue("topology")
        if topology.kind == "cluster":
            settle_cluster(topology.group)
