"""django-redis-patterns: five production Redis patterns as Django apps."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "aget_redis", "get_redis"]


def get_redis(alias: str | None = None, *, replica: bool = False) -> Any:
    """The shared sync redis-py client for a cache alias (see :mod:`.connections`)."""
    from .connections import get_redis as _get

    return _get(alias, replica=replica)


async def aget_redis(alias: str | None = None, *, replica: bool = False) -> Any:
    """The ``redis.asyncio`` client for a cache alias on the running loop."""
    from .conf import default_alias
    from .connections import async_client_for_spec, spec_for_alias

    return async_client_for_spec(spec_for_alias(default_alias(alias)), replica=replica)
