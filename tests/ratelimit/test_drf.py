"""The DRF throttles: same core, exact Retry-After, spoofed X-Forwarded-For ignored."""

from __future__ import annotations

import math
from typing import Any

import pytest
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from django_redis_patterns.ratelimit import Limiter
from django_redis_patterns.ratelimit.drf import AnonRateThrottle, RedisRateThrottle, ScopedRateThrottle


class Burst(RedisRateThrottle):
    rate = "3/d"
    scope = "burst"
    algorithm = "gcra"  # not DRF's sliding log: the next slot comes after a third of the day

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        return self.get_ident(request)


class BurstView(APIView):
    throttle_classes = [Burst]

    def get(self, request: Any) -> Response:
        return Response({"ok": True})


class ScopedView(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "uploads"

    def get(self, request: Any) -> Response:
        return Response({"ok": True})


class AnonView(APIView):
    throttle_classes = [AnonRateThrottle]

    def get(self, request: Any) -> Response:
        return Response({"ok": True})


@pytest.fixture
def api() -> APIRequestFactory:
    return APIRequestFactory()


def test_throttle_429_with_exact_retry_after(topology: Any, api: APIRequestFactory) -> None:
    view = BurstView.as_view()
    responses = [view(api.get("/", REMOTE_ADDR="192.0.2.1")) for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    retry = int(responses[-1]["Retry-After"])
    assert 1 <= retry <= math.ceil(86400 / 3)  # gcra: the next slot, not the whole day
    # The limiter's own retry time for the throttle's bucket (drf.py: "drf:<scope>\x00<key>"),
    # read without counting: the header is its ceiling, up to the time passed since the 429.
    request = api.get("/", REMOTE_ADDR="192.0.2.1")
    usage = Limiter().peek(f"drf:{Burst.scope}\x00{Burst().get_cache_key(request, None)}", Burst.rate)
    assert not usage.allowed and usage.retry_after > 0
    assert retry - 1 <= math.ceil(usage.retry_after) <= retry


def test_spoofed_xff_does_not_escape(topology: Any, api: APIRequestFactory) -> None:
    view = BurstView.as_view()
    statuses = [
        view(api.get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}")).status_code for i in range(6)
    ]
    assert statuses == [200, 200, 200, 429, 429, 429]


def test_scoped_and_anon_throttles(topology: Any, api: APIRequestFactory, settings: Any) -> None:
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"uploads": "2/d;10/m", "anon": "1/d"}}
    from rest_framework.settings import api_settings

    api_settings.reload()
    try:
        scoped = ScopedView.as_view()
        assert [scoped(api.get("/", REMOTE_ADDR="192.0.2.2")).status_code for _ in range(3)] == [200, 200, 429]
        anon = AnonView.as_view()
        assert [anon(api.get("/", REMOTE_ADDR="192.0.2.2")).status_code for _ in range(2)] == [200, 429]
    finally:
        del settings.REST_FRAMEWORK
        api_settings.reload()
