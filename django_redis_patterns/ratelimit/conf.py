"""Settings of REDIS_PATTERNS["RATELIMIT"]: one field per key, with its default."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from django_redis_patterns import conf as _conf


def _strip_colon(prefix: Any) -> Any:
    # django-ratelimit's prefix ends in ":" ("rl:"); ours is joined to the key with one.
    return prefix[:-1] if isinstance(prefix, str) and prefix.endswith(":") and len(prefix) > 1 else prefix


#: django-ratelimit's settings, read as aliases of ours (a REDIS_PATTERNS key wins; the
#: system check W021 suggests the new name).
ALIASES: dict[str, Any] = {
    "RATELIMIT_ENABLE": "ENABLE",
    "RATELIMIT_USE_CACHE": "USING",
    "RATELIMIT_FAIL_OPEN": "FAIL_OPEN",
    "RATELIMIT_IP_META_KEY": "IP_META_KEY",
    "RATELIMIT_IPV4_MASK": "IPV4_MASK",
    "RATELIMIT_IPV6_MASK": "IPV6_MASK",
    "RATELIMIT_VIEW": "VIEW",
    "RATELIMIT_CACHE_PREFIX": ("KEY_PREFIX", _strip_colon),
}
#: django-ratelimit's settings we do not need or cannot honour (system check E026), with why.
UNSUPPORTED: dict[str, str] = {
    "RATELIMIT_HASH_ALGORITHM": "keys are always hashed with BLAKE2b; remove the setting",
}


@dataclasses.dataclass(frozen=True)
class RatelimitSettings:
    ALIASES: ClassVar[dict[str, Any]] = ALIASES

    #: Cache alias; None falls back to REDIS_PATTERNS["USING"].
    USING: str | None = None
    #: False turns every limit off (decorator, middleware, DRF throttle, get_usage).
    ENABLE: bool = True
    #: Default algorithm: gcra, fixed_window, sliding_window, sliding_log, token_bucket, leaky_bucket.
    ALGORITHM: str = "gcra"
    #: Prefix of every Redis key the limiter writes.
    KEY_PREFIX: str = "rl"
    #: Redis unreachable: True lets requests through, False (like django-ratelimit) limits them.
    FAIL_OPEN: bool = False
    #: Status of a request limited because Redis was unreachable (FAIL_OPEN False): 503 or 429.
    UNAVAILABLE_STATUS: int = 503
    #: CIDRs of reverse proxies whose X-Forwarded-For entries are believed (walked right to left).
    TRUSTED_PROXIES: tuple[str, ...] | list[str] = ()
    #: Read the client IP from this META key (or a callable/dotted path ``(request) -> str``) instead.
    IP_META_KEY: Any = None
    #: IPv4 prefix length that makes one bucket (32: one address).
    IPV4_MASK: int = 32
    #: IPv6 prefix length that makes one bucket (a /64 is what one subscriber usually gets).
    IPV6_MASK: int = 64
    #: fixed_window: offset each key's window start (no synchronized reset at :00).
    FIXED_WINDOW_STAGGER: bool = True
    #: Middleware rules: dicts with path | regex, rate, key, methods, algorithm, burst, cost, group,
    #: exempt_paths, exempt_ips, exempt_if. See docs/ratelimit.md.
    RULES: tuple[dict[str, Any], ...] | list[dict[str, Any]] = ()
    #: Response headers on limited routes: None, "draft" (RateLimit/RateLimit-Policy), "legacy"
    #: (X-RateLimit-*), or "both". Retry-After is always sent on 429/503.
    HEADERS: str | None = None
    #: Dotted path of the view rendering a limited request (default: 429 HTML or problem+json).
    VIEW: str | None = None


def get() -> RatelimitSettings:
    # Called several times per check: the section is cached by the core conf module.
    return _conf.section("RATELIMIT")  # type: ignore[no-any-return]
