"""Projects can test their rate-limited views on fakeredis through the testing helper."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser

from django_redis_patterns.ratelimit import Limiter, Ratelimited
from django_redis_patterns.ratelimit.algorithms import ALGORITHMS
from django_redis_patterns.testing import use_fakeredis


@use_fakeredis()
@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_every_algorithm_on_fakeredis(algorithm: str) -> None:
    limiter = Limiter(algorithm)
    assert [limiter.hit("fake", "3/d;10/h").allowed for _ in range(5)] == [True] * 3 + [False] * 2
    refused = limiter.peek("fake", "3/d;10/h")
    assert not refused.allowed and refused.retry_after > 0
    assert [r.remaining for r in refused.rates] == [0, 7]


def test_decorated_view_on_fakeredis(rf: Any) -> None:
    from tests.ratelimit import views

    with use_fakeredis():
        for _ in range(3):
            request = rf.get("/", REMOTE_ADDR="192.0.2.1")
            request.user = AnonymousUser()
            assert views.sync_view(request).status_code == 200
        with pytest.raises(Ratelimited):
            views.sync_view(rf.get("/", REMOTE_ADDR="192.0.2.1"))
