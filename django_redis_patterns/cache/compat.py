"""``cache.client``: the part of django-redis's client object that projects use.

django-redis code reaches Redis through ``cache.client``: ``django_redis.get_redis_connection(alias)``
calls ``caches[alias].client.get_client(write)``, and projects call
``cache.client.get_client()``, ``cache.client.make_key(...)``, ``encode``/``decode``. This object
answers those with this backend's clients, key function and codec; every cache method
(``cache.client.set(...)``) is the backend's own. django-redis's internals (connection
factories, ``_clients``, ``_server``) do not exist here.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT


class DjangoRedisClient:
    def __init__(self, backend: Any) -> None:
        self._backend = backend

    def __repr__(self) -> str:
        return f"<DjangoRedisClient of {self._backend!r}>"

    def get_client(self, write: bool = True, *args: Any, **kwargs: Any) -> Any:
        """The shared redis-py client: the primary for writes, a replica (when configured) for reads."""
        if args or kwargs:
            raise TypeError(
                "get_client() takes only write=; django-redis's tried=/show_index= select among its own "
                "per-server clients, which this backend does not have"
            )
        return self._backend.get_client(write=write)

    def make_key(self, key: Any, version: int | None = None, prefix: str | None = None) -> str:
        backend = self._backend
        if prefix is None:
            return str(backend.make_key(key, version=version))
        return str(backend.key_func(key, prefix, backend.version if version is None else version))

    def make_pattern(self, pattern: str, version: int | None = None, prefix: str | None = None) -> str:
        return str(self._backend.make_pattern(pattern, version=version, prefix=prefix))

    def encode(self, value: Any) -> bytes | int:
        return self._backend._codec.encode(value)  # type: ignore[no-any-return]

    def decode(self, value: bytes) -> Any:
        return self._backend._codec.decode(value)

    @property
    def _serializer(self) -> Any:
        # django-redis's attribute; projects (and its test suite) check its type.
        return self._backend._codec.serializer

    @property
    def _compressor(self) -> Any:
        return self._backend._codec.compressor

    def _has_compression_enabled(self) -> bool:
        return bool(self._backend._codec.compresses)

    def get_backend_timeout(self, timeout: Any = DEFAULT_TIMEOUT) -> Any:
        return self._backend.get_backend_timeout(timeout)

    def close(self, **kwargs: Any) -> None:
        self._backend._close_connections()

    def __getattr__(self, name: str) -> Any:
        # cache.client.set(...), .get(...), .hset(...): the backend's public methods.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._backend, name)
