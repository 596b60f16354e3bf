"""Real Redis for every test: private redis-server processes on free ports.

* ``pytest_configure`` starts one standalone server before Django is set up and exports
  its URL (``DRP_TEST_REDIS_URL``) so ``CACHES["default"]`` is valid in every test.
* Session fixtures start the other topologies on first use: ``sentinel_group``
  (primary + replica + 3 Sentinels), ``cluster`` (3 primaries with a replica each),
  ``tls_server`` (TLS + ACL, certificates generated in the run).
* ``topology`` (indirect-parametrized, see ``tests/topologies.py``) empties the chosen
  topology and points ``CACHES["default"]`` at it.
* ``redis_factory`` builds throw-away topologies for tests that kill or pause servers.

A missing redis-server fails the run with an install hint; it is never a skip. Every
server is killed and its directory removed at the end; a failed test that used a
topology gets the servers' log tails in its report.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from django_redis_patterns.testing import servers

pytest_plugins = ["django_redis_patterns.testing.pytest"]

OUR_BACKEND = "django_redis_patterns.cache.RedisCache"

_root = Path(tempfile.mkdtemp(prefix="drp-tests-"))
_groups: dict[str, servers.ServerGroup] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests on the TLS server need a redis-server built with TLS; marking them lets a run on
    # a binary without it (scripts/test's Redis 6.2 pass) deselect exactly those.
    for item in items:
        if "tls_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.tls)


def pytest_configure(config: pytest.Config) -> None:
    try:
        binary = servers.find_redis_server()
    except servers.RedisServerNotFound as exc:
        raise pytest.UsageError(str(exc))
    os.environ.setdefault("REDIS_SERVER", binary)
    group = servers.Standalone(root=_root / "standalone")
    _groups["standalone"] = group
    os.environ["DRP_TEST_REDIS_URL"] = group.url
    # pytest-django may have imported the settings already: point them at this server too.
    from django.conf import settings

    if settings.configured:
        settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": group.url}}


def pytest_unconfigure(config: pytest.Config) -> None:
    for group in _groups.values():
        group.stop()
    _groups.clear()
    shutil.rmtree(_root, ignore_errors=True)


def _group(kind: str) -> servers.ServerGroup:
    if kind not in _groups:
        cls = {"sentinel": servers.SentinelGroup, "cluster": servers.Cluster, "tls": servers.TLSServer}[kind]
        _groups[kind] = cls(root=_root / kind)
    return _groups[kind]


@pytest.fixture(scope="session")
def standalone_server() -> servers.Standalone:
    return _groups["standalone"]  # type: ignore[return-value]


@pytest.fixture(scope="session")
def sentinel_group() -> servers.SentinelGroup:
    return _group("sentinel")  # type: ignore[return-value]


@pytest.fixture(scope="session")
def cluster() -> servers.Cluster:
    return _group("cluster")  # type: ignore[return-value]


@pytest.fixture(scope="session")
def tls_server() -> servers.TLSServer:
    return _group("tls")  # type: ignore[return-value]


class Topology:
    """What a topology-parametrized test receives."""

    def __init__(self, kind: str, group: servers.ServerGroup):
        self.kind = kind
        self.group = group

    @property
    def location(self) -> Any:
        return self.group.location

    @property
    def url(self) -> str:
        return self.group.url

    def cache_config(self, **options: Any) -> dict[str, Any]:
        config: dict[str, Any] = {"BACKEND": OUR_BACKEND, "LOCATION": self.location}
        if options:
            config["OPTIONS"] = options
        return config

    def flush(self) -> None:
        servers.flush(self.group)

    def __repr__(self) -> str:
        return f"<Topology {self.kind}>"


@pytest.fixture
def topology(request: pytest.FixtureRequest, settings: Any) -> Iterator[Topology]:
    """A started, emptied topology with ``CACHES["default"]`` pointing at it."""
    kind = getattr(request, "param", "standalone")
    group = _groups["standalone"] if kind == "standalone" else _group(kind)
    topo = Topology(kind, group)
    topo.flush()
    settings.CACHES = {**settings.CACHES, "default": topo.cache_config()}
    from django_redis_patterns.client import connections

    connections.reset()
    yield topo


@pytest.fixture
def redis_factory() -> Iterator[Callable[..., servers.ServerGroup]]:
    """Make throw-away topologies: ``redis_factory("sentinel", replicas=1)``; all stopped after."""
    made: list[servers.ServerGroup] = []

    def make(kind: str, **kwargs: Any) -> servers.ServerGroup:
        cls = {
            "standalone": servers.Standalone,
            "sentinel": servers.SentinelGroup,
            "cluster": servers.Cluster,
            "tls": servers.TLSServer,
        }[kind]
        group = cls(**kwargs)
        made.append(group)
        return group

    yield make
    for group in made:
        group.stop()


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    """Each test starts with no cached clients, so a previous test's pools never leak in."""
    from django_redis_patterns.client import connections

    connections.reset()
    yield
    connections.reset()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed and call.when == "call":
        funcargs = getattr(item, "funcargs", {})
        for value in funcargs.values():
            group = value.group if isinstance(value, Topology) else value
            if isinstance(group, servers.ServerGroup):
                with contextlib.suppress(Exception):
                    report.sections.append((f"redis logs ({group.kind})", group.log_tails()))
    return report


# Headless system Chromium (installed by scripts/test with apt; never `playwright install`).
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Playwright's Chromium, one per test.

    Playwright's sync API keeps an event loop running in this thread while it is open;
    the test's own ORM calls (fixtures, assertions) are plain synchronous code, so Django's
    async-safety guard is lifted for the test.
    """
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    executable = os.environ.get("PLAYWRIGHT_CHROMIUM_EXECUTABLE", "/usr/bin/chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            # While Playwright's loop runs, Django keeps this thread's connections per asyncio
            # context: close the ones the test opened, or PostgreSQL keeps their sessions and
            # the test database cannot be dropped at the end of the run.
            from django.db import connections as db_connections

            db_connections.close_all()
            chromium.close()


def artifact_path(area: str, name: str) -> str:
    """Where a test saves a screenshot: test-artifacts/<area>/<name>.png (gitignored)."""
    folder = ARTIFACTS / area
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / f"{name}.png")
