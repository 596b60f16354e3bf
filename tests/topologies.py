"""Decorators that run a test on several Redis topologies.

    from tests.topologies import all_topologies

    @all_topologies
    def test_x(topology): ...   # runs on standalone, sentinel and cluster

The ``topology`` fixture (tests/conftest.py) starts the topology once per session,
empties it before the test, and points ``CACHES["default"]`` at it.
"""

from __future__ import annotations

from typing import Any

import pytest

TOPOLOGIES = ("standalone", "sentinel", "cluster")

all_topologies = pytest.mark.parametrize("topology", TOPOLOGIES, indirect=True)
standalone_and_cluster = pytest.mark.parametrize("topology", ("standalone", "cluster"), indirect=True)


def add_alias(settings: Any, alias: str, group: Any, **options: Any) -> None:
    """Point cache alias ``alias`` at a private server group (e.g. one a test will pause)."""
    settings.CACHES = {
        **settings.CACHES,
        alias: {"BACKEND": "django_redis_patterns.cache.RedisCache", "LOCATION": group.url, "OPTIONS": options},
    }
