"""Value serializers, chosen with ``OPTIONS["SERIALIZER"]`` (a dotted path).

Same interface as django-redis's serializers (``cls(options=OPTIONS)``, ``dumps(value) ->
bytes``, ``loads(bytes) -> value``), so ``"django_redis.serializers.json.JSONSerializer"``
works here unchanged, and these classes work in django-redis.

Integers never reach a serializer: the backend stores them as raw digits so ``INCRBY``
works on them (Django's and django-redis's convention).
"""

from __future__ import annotations

import json
import pickle
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from ..exceptions import ImproperlyConfigured


class BaseSerializer:
    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = options or {}

    def dumps(self, value: Any) -> bytes:
        raise NotImplementedError

    def loads(self, value: bytes) -> Any:
        raise NotImplementedError


class PickleSerializer(BaseSerializer):
    """The default: round-trips any picklable value (``cache_page`` responses need it).

    ``OPTIONS["PICKLE_VERSION"]`` picks the protocol (default: the highest).
    """

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        version = self.options.get("PICKLE_VERSION", pickle.HIGHEST_PROTOCOL)
        if not isinstance(version, int) or version > pickle.HIGHEST_PROTOCOL:
            raise ImproperlyConfigured(
                f"OPTIONS['PICKLE_VERSION'] must be an int <= {pickle.HIGHEST_PROTOCOL}, got {version!r}"
            )
        self.protocol = pickle.HIGHEST_PROTOCOL if version < 0 else version

    def dumps(self, value: Any) -> bytes:
        return pickle.dumps(value, self.protocol)

    def loads(self, value: bytes) -> Any:
        return pickle.loads(value)


class JSONSerializer(BaseSerializer):
    """JSON with Django's encoder: lossy (datetimes come back as strings, tuples as lists)."""

    def dumps(self, value: Any) -> bytes:
        return json.dumps(value, cls=DjangoJSONEncoder, separators=(",", ":")).encode()

    def loads(self, value: bytes) -> Any:
        return json.loads(value)


class MSGPackSerializer(BaseSerializer):
    """msgpack (``pip install msgpack``): compact, language-neutral; tuples come back as lists."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        try:
            import msgpack
        except ImportError:
            raise ImproperlyConfigured(
                "OPTIONS['SERIALIZER'] is msgpack but msgpack is not installed: pip install msgpack"
            )
        self._msgpack = msgpack

    def dumps(self, value: Any) -> bytes:
        return self._msgpack.packb(value)  # type: ignore[no-any-return]

    def loads(self, value: bytes) -> Any:
        return self._msgpack.unpackb(value, raw=False)
