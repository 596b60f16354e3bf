"""pytest plugin loaded into django-redis's own test run (see ``test_django_redis_suite.py``).

It is imported as a top-level module (``-p django_redis_shim``, this directory on
``PYTHONPATH``) because django-redis's tests are a package named ``tests`` too.

What it changes, and nothing else (django-redis's conftest, fixtures and tests run as shipped):

* When django-redis's test settings module ``settings.<variant>`` (``tests/settings/`` of
  its sdist) is imported, every ``CACHES[...]["BACKEND"]`` becomes ``$DRP_PEER_BACKEND``
  (our backend; ``django_redis.cache.RedisCache`` gives the peer's own baseline), its
  ``127.0.0.1:6379`` becomes ``$DRP_PEER_REDIS`` (a private server), its ``SENTINELS``
  become ``$DRP_PEER_SENTINELS`` and the Sentinel service named in a LOCATION becomes
  ``$DRP_PEER_SERVICE``.
* Only the tests of ``$DRP_PEER_VARIANT`` run (django-redis parametrizes every cache test
  over all its settings modules and relies on one xdist worker per module, because Django
  reads its settings once per process); ``$DRP_PEER_UNPARAMETRIZED=1`` keeps the tests that
  take no settings module too.
* Each test's outcome is written as JSON to ``$DRP_PEER_REPORT``.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SETTINGS_DIR = Path(os.environ["DRP_PEER_SDIST"]) / "tests" / "settings"
VARIANT = os.environ["DRP_PEER_VARIANT"]
_outcomes: dict[str, str] = {}


def _swap_location(location: Any) -> Any:
    if isinstance(location, list):
        return [_swap_location(x) for x in location]
    if not isinstance(location, str):
        return location
    location = location.replace("127.0.0.1:6379", os.environ.get("DRP_PEER_REDIS", "127.0.0.1:6379"))
    service = os.environ.get("DRP_PEER_SERVICE")
    if service:  # redis://<service>?db=N: the service django-redis's Sentinel settings name
        for name in ("redis://127.0.0.1?", "redis://default_service?"):
            location = location.replace(name, f"redis://{service}?")
    return location


def swap(module: ModuleType) -> None:
    backend = os.environ["DRP_PEER_BACKEND"]
    sentinels = os.environ.get("DRP_PEER_SENTINELS")
    sentinel_list = [(h, int(p)) for h, p in (s.rsplit(":", 1) for s in sentinels.split(","))] if sentinels else None
    for config in module.CACHES.values():
        config["BACKEND"] = backend
        config["LOCATION"] = _swap_location(config["LOCATION"])
        if sentinel_list and "SENTINELS" in config.get("OPTIONS", {}):
            config["OPTIONS"]["SENTINELS"] = sentinel_list
    if sentinel_list and hasattr(module, "SENTINELS"):
        module.SENTINELS = sentinel_list


class _SwappingLoader(importlib.machinery.SourceFileLoader):
    def exec_module(self, module: ModuleType) -> None:
        super().exec_module(module)
        swap(module)


class _SettingsFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        head, _, name = fullname.partition(".")
        if head != "settings" or not name or "." in name or not (SETTINGS_DIR / f"{name}.py").exists():
            return None
        file = str(SETTINGS_DIR / f"{name}.py")
        return importlib.util.spec_from_file_location(fullname, file, loader=_SwappingLoader(fullname, file))


sys.meta_path.insert(0, _SettingsFinder())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keep_plain = os.environ.get("DRP_PEER_UNPARAMETRIZED") == "1"
    selected, deselected = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        variant = callspec.params.get("cache_settings") if callspec is not None else None
        (selected if variant == VARIANT or (variant is None and keep_plain) else deselected).append(item)
    config.hook.pytest_deselected(items=deselected)
    items[:] = selected


def _name(nodeid: str) -> str:
    """``tests/test_backend.py::T::test_x[sqlite]`` -> ``test_backend.py::T::test_x`` (other parameters stay)."""
    name = nodeid.split("tests/", 1)[-1]
    return name.replace(f"[{VARIANT}]", "").replace(f"[{VARIANT}-", "[").replace(f"-{VARIANT}]", "]")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    name = _name(report.nodeid)
    if report.failed:
        _outcomes[name] = "failed"
    elif report.skipped and name not in _outcomes:
        _outcomes[name] = "skipped"
    elif report.when == "call" and report.passed and name not in _outcomes:
        _outcomes[name] = "passed"


def pytest_sessionfinish(session: pytest.Session) -> None:
    Path(os.environ["DRP_PEER_REPORT"]).write_text(json.dumps(_outcomes, indent=0, sort_keys=True))
