"""The tests of django-ratelimit's and DRF's own suites we do not pass, each with why.

This list may only shrink: every other test of the suite must pass
(``test_django_ratelimit_suite.py``, ``test_drf_throttling_suite.py``), and each entry
names where the behaviour it covers is tested on the real clock instead, or why we
differ on purpose. docs/ratelimit.md's migration sections list the same differences.
"""

from __future__ import annotations

#: django-ratelimit 4.1.0, django_ratelimit/tests.py: we pass all of it.
DJANGO_RATELIMIT: dict[str, str] = {}

#: DRF 3.18.3, tests/test_throttling.py.
DRF: dict[str, str] = {
    "ThrottlingTests.test_request_throttling_expires": (
        "moves DRF's timer() 1 s ahead; we count on Redis's clock "
        "(test_drf_real_clock.py::test_throttle_expires_after_the_period)"
    ),
    "ThrottlingTests.test_request_throttling_multiple_throttles": (
        "moves DRF's timer() 1 and 2 s ahead (test_drf_real_clock.py::test_multiple_throttles_each_count)"
    ),
    "ThrottlingTests.test_next_rate_remains_constant_if_followed": (
        "moves DRF's timer() by a third of the period per request "
        "(test_drf_real_clock.py::test_following_the_rate_is_never_throttled)"
    ),
    "ScopedRateThrottleTests.test_scoped_rate_throttle": (
        "moves DRF's timer() 60 s ahead (test_drf_real_clock.py::test_scoped_throttle_resets_after_the_period)"
    ),
}
