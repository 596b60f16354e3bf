"""Rate-limit checks per second, one process, same Redis: ours (each algorithm) vs
django-ratelimit on django-redis, vs ``limits`` (fixed, moving, sliding window counter),
vs a bare EVALSHA of an INCR+EXPIRE script (the floor); plus MEMORY USAGE per key."""

from __future__ import annotations

from typing import Any

import django_ratelimit.core
import limits
import limits.storage
import limits.strategies
from django.conf import settings
from django.test import RequestFactory

from django_redis_patterns import get_redis
from django_redis_patterns.ratelimit import Limiter, get_usage
from django_redis_patterns.ratelimit.algorithms import ALGORITHMS

from .harness import Context

HIGH = "1000000/h"  # never reached: every contender measures its allowed path
FLOOR_LUA = "local c = redis.call('INCR', KEYS[1]) if c == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end return c"
#: limits' strategy closest to each of ours.
CLOSEST = {
    "gcra": "fixed",
    "fixed_window": "fixed",
    "sliding_window": "sliding",
    "sliding_log": "moving",
    "token_bucket": "fixed",
    "leaky_bucket": "fixed",
}


def run(ctx: Context) -> None:
    bare = ctx.redis()
    floor_sha = bare.script_load(FLOOR_LUA)
    storage = limits.storage.storage_from_string(ctx.url)
    strategies = {
        "fixed": limits.strategies.FixedWindowRateLimiter(storage),
        "moving": limits.strategies.MovingWindowRateLimiter(storage),
        "sliding": limits.strategies.SlidingWindowCounterRateLimiter(storage),
    }
    item = limits.parse(HIGH.replace("/h", "/hour"))

    def floor() -> Any:
        return bare.evalsha(floor_sha, 1, "bench:floor", 3600)

    raw = ctx.raw()

    def raw_floor() -> Any:
        return raw.call("EVALSHA", floor_sha, 1, "bench:floor", 3600)

    # -- the limiter core: one check --------------------------------------------------
    for name in ALGORITHMS:
        limiter = Limiter(name)
        closest = CLOSEST[name]
        strategy = strategies[closest]
        ctx.compare(
            f"ratelimit check: {name}",
            {
                f"ours {name}": lambda limiter=limiter: limiter.hit("bench-user", HIGH),
                f"limits {closest}": lambda strategy=strategy, closest=closest: strategy.hit(
                    item, "bench-user", closest
                ),
                "bare EVALSHA INCR+EXPIRE": floor,
            },
            number=600,
            repeat=9,
        )
    ctx.compare(
        "ratelimit check: limits strategies",
        {
            "ours gcra": lambda: Limiter("gcra").hit("bench-user", HIGH),
            **{f"limits {n}": (lambda s=s, n=n: s.hit(item, "bench-user", n)) for n, s in strategies.items()},
        },
        number=600,
        repeat=9,
    )

    # -- request level: what a decorated view pays ----------------------------------------
    settings.RATELIMIT_USE_CACHE = "django_redis"
    request = RequestFactory().get("/", REMOTE_ADDR="198.51.100.7")

    def theirs() -> Any:
        return django_ratelimit.core.get_usage(request, group="bench", key="ip", rate=HIGH, increment=True)

    for name in ALGORITHMS:
        ctx.compare(
            f"ratelimit get_usage(request): {name}",
            {
                f"ours {name}": lambda name=name: get_usage(
                    request, group="bench", key="ip", rate=HIGH, increment=True, algorithm=name
                ),
                "django-ratelimit + django-redis": theirs,
                # One round trip with no client and no request handling at all: their time
                # over this is the largest ratio any one-round-trip limiter could reach.
                "ceiling: raw socket EVALSHA INCR+EXPIRE, no client": raw_floor,
            },
            number=600,
            repeat=9,
        )

    # -- memory per key after 100 hits (limit 100 per hour) -----------------------------
    client = get_redis()
    for name in ALGORITHMS:
        limiter = Limiter(name)
        for _ in range(100):
            limiter.hit("mem-user", "100/h")
        size = sum(client.memory_usage(k) or 0 for k in limiter.keys("mem-user", "100/h"))
        ctx.record("ratelimit memory after 100 hits", f"ours {name}", size, "bytes")
    for n, strategy in strategies.items():
        mem_item = limits.parse("100/hour")
        for _ in range(100):
            strategy.hit(mem_item, "mem-user", n)
        keys = [k for k in bare.scan_iter(match="LIMITS:*mem-user*")]
        size = sum(bare.memory_usage(k) or 0 for k in keys)
        ctx.record("ratelimit memory after 100 hits", f"limits {n}", size, "bytes")
        bare.delete(*keys)
    dr_request = RequestFactory().get("/", REMOTE_ADDR="198.51.100.99")
    before = set(bare.keys("*"))
    for _ in range(100):
        django_ratelimit.core.get_usage(dr_request, group="mem", key="ip", rate="100/h", increment=True)
    new = set(bare.keys("*")) - before
    ctx.record(
        "ratelimit memory after 100 hits",
        "django-ratelimit + django-redis",
        sum(bare.memory_usage(k) or 0 for k in new),
        "bytes",
    )
