"""Response headers: ``Retry-After``, the IETF draft ``RateLimit``/``RateLimit-Policy``
fields (draft-ietf-httpapi-ratelimit-headers), or legacy ``X-RateLimit-*``.

Headers reveal limits to whoever is being limited, so they are opt-in (``HEADERS``);
``Retry-After`` is always sent with a 429/503, as RFC 6585 and RFC 9110 suggest.
"""

from __future__ import annotations

import math
import time
from typing import Any

from .conf import get as settings
from .usage import Usage

MODES = (None, "draft", "legacy", "both")


def retry_after(usage: Usage) -> str:
    """Whole seconds, rounded up, never 0 for a limited request."""
    return str(max(1, math.ceil(usage.retry_after)))


def draft_fields(usage: Usage) -> dict[str, str]:
    """``RateLimit-Policy: "1m";q=10;w=60`` and ``RateLimit: "1m";r=3;t=42`` (one item per rate)."""
    policies, limits = [], []
    for r in usage.rates:
        name = f'"{r.rate.label}"'
        policies.append(f"{name};q={r.rate.limit};w={math.ceil(r.rate.period)}")
        wait = r.retry_after if r.retry_after > 0 else r.reset_after
        limits.append(f"{name};r={r.remaining};t={math.ceil(wait)}")
    return {"RateLimit-Policy": ", ".join(policies), "RateLimit": ", ".join(limits)}


def legacy_fields(usage: Usage) -> dict[str, str]:
    """GitHub/Flask-Limiter style; ``X-RateLimit-Reset`` is an epoch timestamp."""
    now = usage.now if usage.now is not None else time.time()
    wait = usage.retry_after if not usage.allowed else usage.reset_after
    return {
        "X-RateLimit-Limit": str(usage.limit),
        "X-RateLimit-Remaining": str(usage.remaining),
        "X-RateLimit-Reset": str(math.ceil(now + wait)),
    }


def apply(response: Any, usage: Usage | None, mode: str | None = None) -> Any:
    """Add the configured headers for ``usage`` (no-op without usage or with HEADERS=None)."""
    mode = settings().HEADERS if mode is None else mode
    if usage is None or not mode or usage.unavailable or not usage.rates:
        return response
    fields: dict[str, str] = {}
    if mode in ("draft", "both"):
        fields.update(draft_fields(usage))
    if mode in ("legacy", "both"):
        fields.update(legacy_fields(usage))
    for name, value in fields.items():
        response.headers.setdefault(name, value)
    return response
