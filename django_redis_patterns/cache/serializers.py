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

from django.core import signing
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.crypto import constant_time_compare

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


class TamperedValue(signing.BadSignature):
    """A value read by :class:`SignedSerializer` that this site did not sign (or signed with a
    key no longer in ``SECRET_KEY`` / ``SECRET_KEY_FALLBACKS``). Nothing of it was deserialized."""


class SignedSerializer(BaseSerializer):
    """Another serializer's bytes behind an HMAC: values nobody but this site wrote are refused
    before they are deserialized. For projects that cache objects (pickle) and do not trust
    everyone who can write to their Redis: a planted pickle would otherwise run its code in the
    web worker that reads it.

    ``OPTIONS["SIGNED_SERIALIZER"]``: the serializer wrapped, ``"pickle"`` (default), ``"json"``,
    ``"msgpack"`` or a dotted path. ``OPTIONS["SIGNING_SALT"]``: the salt of the signing key
    (default ``"django_redis_patterns.cache"``; give each alias its own to keep their values
    apart). The key is ``django.core.signing``'s (``SECRET_KEY``, read on every call); values
    signed with a key in ``SECRET_KEY_FALLBACKS`` are accepted, so rotating the key keeps the
    cache warm. Stored as ``drpS1`` + the 43-character signature + the wrapped bytes.
    """

    MAGIC = b"drpS1"

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        from .codec import SERIALIZERS, _load

        inner = self.options.get("SIGNED_SERIALIZER", "pickle")
        if inner in ("signed", f"{__name__}.SignedSerializer"):
            raise ImproperlyConfigured("OPTIONS['SIGNED_SERIALIZER'] must name the serializer to wrap, not itself")
        self.inner: BaseSerializer = _load("SIGNED_SERIALIZER", inner, SERIALIZERS, self.options)
        salt = self.options.get("SIGNING_SALT", "django_redis_patterns.cache")
        if not isinstance(salt, str) or not salt:
            raise ImproperlyConfigured(f"OPTIONS['SIGNING_SALT'] must be a non-empty string, got {salt!r}")
        self.salt = salt
        self._head = len(self.MAGIC)
        self._body = self._head + 43  # an unpadded base64 SHA-256

    def _signer(self) -> signing.Signer:
        # Built per call: SECRET_KEY and SECRET_KEY_FALLBACKS are read as they are now.
        return signing.Signer(salt=self.salt, algorithm="sha256")

    def dumps(self, value: Any) -> bytes:
        payload = self.inner.dumps(value)
        # Signer.signature() is an HMAC over bytes as well as str (force_bytes).
        return self.MAGIC + self._signer().signature(payload).encode() + payload  # type: ignore[arg-type]

    def loads(self, value: bytes) -> Any:
        if not value.startswith(self.MAGIC):
            raise TamperedValue("cached value is not signed (not written through SignedSerializer); not deserialized")
        signature, payload = value[self._head : self._body], value[self._body :]
        signer = self._signer()
        for key in (signer.key, *signer.fallback_keys):
            expected = signer.signature(payload, key).encode()  # type: ignore[arg-type]
            if constant_time_compare(signature, expected):
                return self.inner.loads(payload)
        raise TamperedValue(
            "cached value has a bad signature (not written by this site, or signed with a key that is no "
            "longer SECRET_KEY or in SECRET_KEY_FALLBACKS); not deserialized"
        )
