"""DRF's timer-driven throttling behaviours, on the real clock (DRF's own tests move its
``timer()``; ours count on Redis's clock, so these wait for real, on short periods).

Each test mirrors one test excluded in ``ratelimit_exclusions.DRF``; the assertions are
about which requests are allowed, never about how long anything took.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from django_redis_patterns.ratelimit.drf import AnonRateThrottle, ScopedRateThrottle, UserRateThrottle

factory = APIRequestFactory()


def view_with(*throttles: type, scope: str | None = None) -> Any:
    class View(APIView):
        throttle_classes = throttles
        throttle_scope = scope

        def get(self, request: Any) -> Response:
            return Response("ok")

    return View.as_view()


def statuses(view: Any, n: int, **meta: Any) -> list[int]:
    return [view(factory.get("/", REMOTE_ADDR="192.0.2.1", **meta)).status_code for _ in range(n)]


def sleep_until(start: float, seconds: float) -> None:
    time.sleep(max(0.0, start + seconds - time.monotonic()))


class TwoPerTwoSeconds(UserRateThrottle):
    rate = "2/2s"
    scope = "expires"


def test_throttle_expires_after_the_period(topology: Any) -> None:
    view = view_with(TwoPerTwoSeconds)
    start = time.monotonic()
    assert statuses(view, 3) == [200, 200, 429]
    sleep_until(start, 2.2)
    assert statuses(view, 1) == [200]


class ThreePerSecond(UserRateThrottle):
    rate = "3/s"
    scope = "seconds"


class SixPerFiveSeconds(UserRateThrottle):
    rate = "6/5s"
    scope = "five"


def test_multiple_throttles_each_count(topology: Any) -> None:
    """As DRF's: every throttle sees every request, and counts those it allows itself."""
    view = view_with(ThreePerSecond, SixPerFiveSeconds)
    start = time.monotonic()
    responses = [view(factory.get("/", REMOTE_ADDR="192.0.2.1")) for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert int(responses[-1]["Retry-After"]) == 1  # the 3/s throttle's wait
    sleep_until(start, 1.2)
    # The 6/5s throttle counted all four (it allowed them): two more, then it refuses.
    responses = [view(factory.get("/", REMOTE_ADDR="192.0.2.1")) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert 2 <= int(responses[-1]["Retry-After"]) <= 5  # now the 6/5s throttle's wait


class ThreePerThreeSeconds(UserRateThrottle):
    rate = "3/3s"
    scope = "follow"


def test_following_the_rate_is_never_throttled(topology: Any) -> None:
    view = view_with(ThreePerThreeSeconds)
    start = time.monotonic()
    for k in range(5):  # one request per third of the period, as DRF's test (0, 20, 40, 60, 80 s of 3/min)
        sleep_until(start, k * 1.05)
        assert statuses(view, 1) == [200], k


def test_a_fourth_request_waits_the_whole_period(topology: Any) -> None:
    """DRF's semantics by default: 3/3s lets no 4th request through until 3 s after the
    first (a GCRA would let one through after 1 s)."""
    view = view_with(ThreePerThreeSeconds)
    start = time.monotonic()
    assert statuses(view, 3) == [200, 200, 200]
    sleep_until(start, 1.2)
    assert statuses(view, 1) == [429]
    sleep_until(start, 2.2)
    assert statuses(view, 1) == [429]
    sleep_until(start, 3.3)
    assert statuses(view, 1) == [200]


class XYScoped(ScopedRateThrottle):
    THROTTLE_RATES = {"x": "3/2s", "y": "1/2s"}


def test_scoped_throttle_resets_after_the_period(topology: Any) -> None:
    x = view_with(XYScoped, scope="x")
    y = view_with(XYScoped, scope="y")
    unscoped = view_with(XYScoped)
    start = time.monotonic()
    assert statuses(x, 4) == [200, 200, 200, 429]
    assert statuses(y, 2) == [200, 429]
    assert statuses(unscoped, 10) == [200] * 10
    sleep_until(start, 2.2)
    assert statuses(x, 4) == [200, 200, 200, 429]
    assert statuses(y, 2) == [200, 429]


def test_anon_cache_key_and_missing_address(topology: Any) -> None:
    """DRF's key format; requests with no client address share one bucket, as on DRF, and are
    limited together (never unlimited)."""
    throttle = AnonRateThrottle()
    request = Request(factory.get("/", REMOTE_ADDR="192.0.2.7"))
    assert throttle.get_cache_key(request, view=None) == "throttle_anon_192.0.2.7"
    assert throttle.get_cache_key(Request(HttpRequest()), view=None) == "throttle_anon_None"

    class TwoPerMinute(AnonRateThrottle):
        rate = "2/min"

    allowed = [TwoPerMinute().allow_request(Request(HttpRequest()), view=None) for _ in range(3)]
    assert allowed == [True, True, False]


def test_a_drf_cache_attribute_is_refused() -> None:
    from django.core.cache import caches

    class OnAnotherCache(UserRateThrottle):
        cache = caches["default"]
        rate = "5/m"

    with pytest.raises(ImproperlyConfigured, match="set `using = '<alias>'` instead"):
        OnAnotherCache()
