"""Interim backend: Django's built-in RedisCache reaching Redis through our connection layer.

Replaced by the full backend of the cache issue (#3).
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.utils.functional import cached_property

from .. import connections


class _Client(RedisCacheClient):
    def __init__(self, servers: Any, location: Any, options: dict[str, Any]) -> None:
        super().__init__(servers)
        self._location = location
        self._options = options

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        return connections.client_for_config(self._location, self._options, replica=not write)


class RedisCache(DjangoRedisCache):
    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._location = server
        self._connection_options = params.get("OPTIONS") or {}

    @cached_property
    def _cache(self) -> Any:
        return _Client(self._servers, self._location, self._connection_options)  # type: ignore[attr-defined]
