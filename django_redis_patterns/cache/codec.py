"""Bytes <-> Python values: raw integers, serializer, compressor, stampede envelope.

One codec per backend instance; every sync and async method of the backend encodes and
decodes through it, so both paths store byte-identical values.

Stored formats (all readable by ``decode``):

* ``int`` (exactly ``int``, not ``bool``/``IntEnum``): ASCII digits, so ``INCRBY`` works
  and django-redis/Django's backend read them back the same way.
* anything else: ``compressor.compress(serializer.dumps(value))``.
* values written by ``get_or_set(..., stampede=...)``: ``ENVELOPE`` + 4-byte compute time
  in ms + one of the above. The envelope starts with a NUL byte, which no serializer
  output here starts with (pickle: 0x80; JSON: printable; msgpack: only integers, which
  are stored raw), so a plain ``get`` strips it transparently.
"""

from __future__ import annotations

import pickle
import struct
from collections.abc import Callable
from typing import Any

from django.utils.module_loading import import_string

from ..exceptions import ImproperlyConfigured
from .compressors import IdentityCompressor
from .serializers import PickleSerializer, SignedSerializer

SERIALIZERS = {
    "pickle": "django_redis_patterns.cache.serializers.PickleSerializer",
    "json": "django_redis_patterns.cache.serializers.JSONSerializer",
    "msgpack": "django_redis_patterns.cache.serializers.MSGPackSerializer",
    "signed": "django_redis_patterns.cache.serializers.SignedSerializer",
}
COMPRESSORS = {
    "none": "django_redis_patterns.cache.compressors.IdentityCompressor",
    "zlib": "django_redis_patterns.cache.compressors.ZlibCompressor",
    "zstd": "django_redis_patterns.cache.compressors.ZstdCompressor",
    "lz4": "django_redis_patterns.cache.compressors.LZ4Compressor",
}

ENVELOPE = b"\x00\x1fxf"
_ENVELOPE_HEADER = struct.Struct(">4sI")
ENVELOPE_SIZE = _ENVELOPE_HEADER.size

_DIGITS_OR_MINUS = frozenset(b"-0123456789")


def _load(option: str, value: Any, shortcuts: dict[str, str], options: dict[str, Any]) -> Any:
    if not isinstance(value, str) or not value:
        raise ImproperlyConfigured(f"OPTIONS[{option!r}] must be a dotted path or one of {sorted(shortcuts)}")
    path = shortcuts.get(value, value)
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"OPTIONS[{option!r}] = {value!r} cannot be imported: {exc}")
    return cls(options=options)


class Codec:
    def __init__(self, options: dict[str, Any]) -> None:
        self.serializer = _load("SERIALIZER", options.get("SERIALIZER", "pickle"), SERIALIZERS, options)
        signing_options = sorted({"SIGNED_SERIALIZER", "SIGNING_SALT"} & set(options))
        if signing_options and not isinstance(self.serializer, SignedSerializer):
            raise ImproperlyConfigured(
                f"OPTIONS[{signing_options[0]!r}] only applies to SERIALIZER 'signed' "
                "(django_redis_patterns.cache.serializers.SignedSerializer)"
            )
        self.compressor = _load("COMPRESSOR", options.get("COMPRESSOR", "none"), COMPRESSORS, options)
        self._dumps = self.serializer.dumps
        self._loads = self.serializer.loads
        if type(self.serializer) is PickleSerializer:  # skip a Python-level call per value
            self._loads = pickle.loads
        self._compress = self.compressor.compress
        # Our compressors pass uncompressed data through; django-redis's raise on it.
        ours = type(self.compressor).__module__ == "django_redis_patterns.cache.compressors"
        self._decompress: Callable[[bytes], bytes] | None = (
            self.compressor.decompress if ours else self._foreign_decompress
        )
        if type(self.compressor) is IdentityCompressor:
            self._decompress = None

    def _foreign_decompress(self, value: bytes) -> bytes:
        try:
            return self.compressor.decompress(value)  # type: ignore[no-any-return]
        except Exception:  # django_redis.exceptions.CompressorError: stored uncompressed
            return value

    def encode(self, value: Any) -> bytes | int:
        if type(value) is int:
            return value
        return self._compress(self._dumps(value))  # type: ignore[no-any-return]

    def encode_serialized(self, value: Any) -> bytes:
        """``encode`` without the raw-integer shortcut (django-redis's sorted-set members)."""
        return self._compress(self._dumps(value))  # type: ignore[no-any-return]

    @property
    def compresses(self) -> bool:
        return type(self.compressor) is not IdentityCompressor

    def decode(self, raw: bytes) -> Any:
        if raw:
            first = raw[0]
            if first in _DIGITS_OR_MINUS:
                try:
                    return int(raw)
                except ValueError:
                    pass
            elif first == 0 and raw.startswith(ENVELOPE):
                return self.decode(raw[ENVELOPE_SIZE:])
        if self._decompress is not None:
            raw = self._decompress(raw)
        return self._loads(raw)

    def decode_many(self, values: list[Any]) -> list[Any]:
        """``decode`` over a reply list (``None`` stays ``None``), inlined for plain pickles."""
        decode = self.decode
        if self._loads is pickle.loads and self._decompress is None:
            loads = pickle.loads
            # 0x80 opens every pickle of protocol >= 2 and nothing else stored here.
            return [None if v is None else loads(v) if v[:1] == b"\x80" else decode(v) for v in values]
        return [None if v is None else decode(v) for v in values]

    # -- stampede envelope -------------------------------------------------------------
    @staticmethod
    def wrap(encoded: bytes | int, compute_ms: int) -> bytes | int:
        """Prefix a value with how long it took to compute (integers stay raw for INCRBY)."""
        if isinstance(encoded, int):
            return encoded
        return _ENVELOPE_HEADER.pack(ENVELOPE, max(0, min(compute_ms, 0xFFFFFFFF))) + encoded

    @staticmethod
    def compute_ms(raw: bytes) -> int:
        """Compute time stored by :meth:`wrap`, or 0 for a plain value."""
        if raw[:1] == b"\x00" and raw.startswith(ENVELOPE):
            return int(_ENVELOPE_HEADER.unpack_from(raw)[1])
        return 0
