"""Decorators that run a test on several Redis topologies.

    from tests.topologies import all_topologies

    @all_topologies
    def test_x(topology): ...   # runs on standalone, sentinel and cluster

The ``topology`` fixture (tests/conftest.py) starts the topology once per session,
empties it before the test, and points ``CACHES["default"]`` at it.
"""

from __future__ import annotations

import pytest

TOPOLOGIES = ("standalone", "sentinel", "cluster")

all_topologies = pytest.mark.parametrize("topology", TOPOLOGIES, indirect=True)
standalone_and_cluster = pytest.mark.parametrize("topology", ("standalone", "cluster"), indirect=True)
