"""The stack people use today, for the load benchmark's baseline (``ARCADE_STACK=today``):
django-redis as the cache, Django's cache session engine, django-ratelimit.

Only ``bench/bench_example_load.py`` uses it; the site itself is the ``views.py`` you read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django_ratelimit.decorators import ratelimit as django_ratelimit


def ratelimit(*, algorithm: str | None = None, **kwargs: Any) -> Callable[[Any], Any]:
    """django-ratelimit's decorator, ignoring ``algorithm`` (it has one: a fixed window)."""
    return django_ratelimit(**kwargs)  # type: ignore[no-any-return]
