"""Cache backend: ``CACHES = {"default": {"BACKEND": "django_redis_patterns.cache.RedisCache", ...}}``."""

from .backend import RedisCache

__all__ = ["RedisCache"]
