"""The longest period the scripts can run exactly (18250 days) works with every algorithm; a
longer, non-finite or absurd one is a RateError at parse time, never a Redis error (a 500)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from django_redis_patterns.ratelimit import Limiter, RateError, get_usage
from django_redis_patterns.ratelimit.algorithms import ALGORITHMS
from django_redis_patterns.ratelimit.rates import parse
from tests.topologies import standalone_and_cluster

MAX_PERIOD = 18250 * 86400  # the documented maximum (rates.MAX_PERIOD)
LONGEST = ["1/18250d", (1, MAX_PERIOD), (1, float(MAX_PERIOD) - 0.5)]


@standalone_and_cluster
@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
@pytest.mark.parametrize("rate", LONGEST, ids=str)
def test_the_longest_period_runs_exactly_with_every_algorithm(topology: Any, algorithm: str, rate: Any) -> None:
    limiter = Limiter(algorithm)
    period = parse(rate)[0].period
    assert limiter.peek("k", rate).allowed is True
    first = limiter.hit("k", rate)
    assert first.allowed is True and first.remaining == 0  # the first hit is never refused
    second = limiter.hit("k", rate)
    assert second.allowed is False
    if algorithm in ("fixed_window", "sliding_window"):
        # window-aligned: until the (staggered) window ends, or into the next one
        assert 0 < second.retry_after <= 2 * period + 1, second.retry_after
    else:
        # the refusal waits out (about) the whole period: the arithmetic did not lose it
        assert period - 2 <= second.retry_after <= period + 1, second.retry_after
    assert limiter.peek("k", rate).allowed is False
    assert limiter.hit("other", rate).allowed is True


@standalone_and_cluster
def test_gcra_burst_at_the_longest_period(topology: Any) -> None:
    limiter = Limiter("gcra", burst=3)  # the burst spans the whole longest period
    assert [limiter.hit("b", "3/18250d").allowed for _ in range(4)] == [True, True, True, False]


def test_the_documented_maximum_is_the_parsers() -> None:
    from django_redis_patterns.ratelimit import rates

    assert rates.MAX_PERIOD == MAX_PERIOD


@pytest.mark.parametrize(
    "rate",
    [
        "1/99999999999d",
        "1/18251d",
        "5/438001h",
        "1/26280001m",
        "1/1576800001s",
        (1, MAX_PERIOD + 1),
        (1, 1e300),
        (1, float("nan")),
        (1, float("inf")),
        (1, float("-inf")),
        [(1, float("nan")), "5/m"],
    ],
    ids=str,
)
def test_periods_the_scripts_cannot_run_are_rate_errors(rate: Any) -> None:
    with pytest.raises(RateError, match=r"rate .*(18250 days|maximum)"):
        parse(rate)


def test_a_bad_period_is_a_config_error_not_a_500(topology: Any, rf: RequestFactory) -> None:
    request = rf.get("/")
    request.user = AnonymousUser()
    for rate in ("1/99999999999d", (1, float("nan")), (1, math.inf)):
        with pytest.raises(RateError):
            get_usage(request, group="g", key="ip", rate=rate, increment=True)


def test_a_gcra_burst_reaching_past_the_longest_period_is_a_config_error(topology: Any) -> None:
    from django_redis_patterns.ratelimit import RatelimitConfigError

    with pytest.raises(RatelimitConfigError, match=r"burst=11 .*18250 days"):
        Limiter("gcra", burst=11).hit("k", "10/18250d")
    assert Limiter("gcra", burst=10).hit("k", "10/18250d").allowed is True
