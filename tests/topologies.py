"""Decorators that run a test on several Redis topologies.

    from tests.topologies import all_topologies

    @all_topologies
    def test_x(topology): ...   # runs on standalone, sentinel and cluster

The ``topology`` fixture (tests/conftest.py) starts the topology once per session,
empties it before the test, and points ``CACHES["default"]`` at it.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

TOPOLOGIES = ("standalone", "sentinel", "cluster")

all_topologies = pytest.mark.parametrize("topology", TOPOLOGIES, indirect=True)
standalone_and_cluster = pytest.mark.parametrize("topology", ("standalone", "cluster"), indirect=True)


#: A short circuit-breaker cool-down for tests that stop a server and then use it again: after
#: an outage an alias fails fast for its cool-down, then the next call finds the server back.
SHORT_COOLDOWN = 0.2


def after_cooldown() -> None:
    """Wait out SHORT_COOLDOWN (what a user's next request after a recovery may have to do)."""
    time.sleep(SHORT_COOLDOWN + 0.05)


def add_alias(settings: Any, alias: str, group: Any, **options: Any) -> None:
    """Point cache alias ``alias`` at a private server group (e.g. one a test will pause)."""
    settings.CACHES = {
        **settings.CACHES,
        alias: {"BACKEND": "django_redis_patterns.cache.RedisCache", "LOCATION": group.url, "OPTIONS": options},
    }
