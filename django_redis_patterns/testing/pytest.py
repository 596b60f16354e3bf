"""pytest plugin: ``pytest_plugins = ["django_redis_patterns.testing.pytest"]``.

Fixture ``fake_redis``: every Redis alias of the test (``"default"`` unless the test is
marked ``@pytest.mark.fake_redis_aliases("default", "sessions")``) on an emptied
in-process fakeredis; yields the sync fakeredis client.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from . import use_fakeredis


@pytest.fixture
def fake_redis(request: pytest.FixtureRequest) -> Iterator[Any]:
    marker = request.node.get_closest_marker("fake_redis_aliases")
    aliases = tuple(marker.args) if marker else ("default",)
    with use_fakeredis(*aliases):
        from django_redis_patterns import get_redis

        yield get_redis(aliases[0])
