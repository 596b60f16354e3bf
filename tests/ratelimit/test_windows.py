"""Window correctness with short windows (5 per 0.2 s), judged on Redis's own clock.

Every hit's reply carries the server time it was decided at (``usage.now``), so the checks
below use the same clock as the algorithms: no client clock, no sleeps asserted on.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest

from django_redis_patterns.ratelimit import Limiter, Usage
from tests.ratelimit.conftest import ratelimit_settings

N = 5
T = 0.2
RATE = (N, T)

#: Most hits any window of length T may contain, per algorithm (documented in docs/ratelimit.md).
BOUNDS = {
    "sliding_log": N,  # exact
    "gcra(burst=1)": N,  # exact and smooth
    "gcra": 2 * N - 1,  # burst N, then one per T/N: N + (N - 1) inside one T
    "fixed_window": 2 * N,  # N at the end of one window + N at the start of the next
    "sliding_window": 2 * N,  # never more than N per fixed window
    "token_bucket": 2 * N,  # a full bucket + one bucket's worth of refill during T
    "leaky_bucket": 2 * N,  # same as the token bucket
}
#: Algorithms whose retry_after is exact: nothing is allowed before it has passed.
EXACT_RETRY = {"sliding_log", "gcra(burst=1)", "gcra", "fixed_window", "token_bucket", "leaky_bucket"}


def _limiter(variant: str) -> Limiter:
    if variant == "gcra(burst=1)":
        return Limiter("gcra", burst=1)
    return Limiter(variant)


def hammer(limiter: Limiter, key: str, seconds: float = 1.2, threads: int = 2) -> list[Usage]:
    """Hit from ``threads`` threads for ``seconds`` — longer if the machine is so loaded that
    no hit was refused yet (up to 20 s): the checks below need the limit to be reached."""
    usages: list[Usage] = []
    refused = [0]
    lock = threading.Lock()
    started = time.monotonic()

    def done() -> bool:
        elapsed = time.monotonic() - started
        return elapsed >= 20 or (elapsed >= seconds and refused[0] >= 3)

    def loop() -> None:
        while not done():
            usage = limiter.hit(key, RATE)
            with lock:
                usages.append(usage)
                refused[0] += not usage.allowed
            time.sleep(random.uniform(0, 0.002))

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sorted(usages, key=lambda u: u.now or 0)


def most_in_any_window(times: list[float], length: float) -> int:
    best, start = 0, 0
    for end in range(len(times)):
        while times[end] - times[start] >= length:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.mark.parametrize("variant", list(BOUNDS))
def test_window_bound_and_retry_after(topology: Any, variant: str) -> None:
    usages = hammer(_limiter(variant), f"win-{variant}")
    allowed = [round(u.now * 1e6) for u in usages if u.allowed]  # type: ignore[operator]
    refused = [u for u in usages if not u.allowed]
    assert refused, "the test must actually reach the limit"
    # Never more than the documented number in any window of length T (integer µs, half-open).
    assert most_in_any_window(allowed, round(T * 1e6)) <= BOUNDS[variant]
    # Nobody is told "retry in 0 s" while still limited.
    assert all(u.retry_after > 0 for u in refused)
    if variant in EXACT_RETRY:
        # retry_after is honest: no hit got through before a refused one was told to come back.
        for u in refused:
            t = round(u.now * 1e6)  # type: ignore[operator]
            back = t + round(u.retry_after * 1e6)
            assert not [a for a in allowed if t < a < back]


def test_sliding_log_reaches_exactly_n_per_window(topology: Any) -> None:
    """The exact algorithms are not just under the bound: a saturated window holds exactly N."""
    usages = hammer(Limiter("sliding_log"), "full")
    allowed = [round(u.now * 1e6) for u in usages if u.allowed]  # type: ignore[operator]
    assert most_in_any_window(allowed, round(T * 1e6)) == N


def window_offset(usage: Usage, period_us: int) -> int:
    """Where in the period ``usage``'s window ends (µs, on Redis's clock): the key's edge."""
    end = round(usage.now * 1e6) + round(usage.reset_after * 1e6)  # type: ignore[operator]
    return end % period_us


@pytest.mark.parametrize("stagger", [True, False], ids=["stagger", "aligned"])
def test_fixed_window_edges_staggered_per_key(topology: Any, settings: Any, stagger: bool) -> None:
    """FIXED_WINDOW_STAGGER: each key's windows start at their own offset in the period (no
    synchronized reset at 00:00 UTC); off, every key's window ends on the same epoch edge."""
    ratelimit_settings(settings, FIXED_WINDOW_STAGGER=stagger)
    limiter = Limiter("fixed_window")
    rate, period_us = "5/d", 86_400_000_000
    offsets = {}
    for key in ("alice", "bob"):
        first, second = limiter.hit(key, rate), limiter.hit(key, rate)
        assert first.allowed and second.allowed and second.remaining == first.remaining - 1
        # one window per key: both hits see the same edge
        assert window_offset(first, period_us) == window_offset(second, period_us)
        offsets[key] = window_offset(first, period_us)
    if stagger:
        assert offsets["alice"] != offsets["bob"]
        assert abs(offsets["alice"] - offsets["bob"]) > 1_000_000  # seconds apart, not clock noise
    else:
        assert offsets == {"alice": 0, "bob": 0}  # windows are whole days since the epoch


@pytest.mark.parametrize(("variant", "stored"), [("leaky_bucket", "4.7"), ("token_bucket", "0.3")])
def test_every_refused_hit_is_told_the_same_moment(topology: Any, variant: str, stored: str) -> None:
    """Buckets keep a float level. Recomputed from it at each call, "when does one more fit?"
    could round to either of two µs, so a hit refused with "retry in r" could see another
    allowed one µs before r (seen once in CI). The moment is now decided from the stored state
    alone: every refused peek names the same µs, and nothing is allowed before it."""
    from django_redis_patterns import get_redis

    limiter = _limiter(variant)
    key = f"same-moment-{variant}"
    redis_key = limiter.keys(key, RATE)[0]
    client = get_redis()
    seconds, micros = client.time()
    # 4.7 of 5 poured (or 0.3 of 5 tokens left): one more fits 28 ms later, in float 28000.000000000007 µs
    client.set(redis_key, f"{stored}:{seconds * 1_000_000 + micros}", px=1000)
    refused: set[int] = set()
    first_allowed = None
    while first_allowed is None:
        usage = limiter.peek(key, RATE)
        now = round(usage.now * 1e6)  # type: ignore[operator]
        if usage.allowed:
            first_allowed = now
        else:
            refused.add(now + round(usage.retry_after * 1e6))
    assert len(refused) == 1, f"refused peeks were told {len(refused)} different moments"
    assert first_allowed >= refused.pop()
