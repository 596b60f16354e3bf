"""django-redis-patterns: five production Redis patterns as Django apps."""

from __future__ import annotations

from .client.connections import aget_redis, get_redis

__version__ = "0.1.0"
__all__ = ["__version__", "aget_redis", "get_redis"]
