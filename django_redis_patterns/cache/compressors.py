"""Value compressors, chosen with ``OPTIONS["COMPRESSOR"]`` (a dotted path).

Same interface as django-redis's compressors (``cls(options=OPTIONS)``, ``compress`` /
``decompress``), so its classes work here. Ours compress only values longer than
``OPTIONS["COMPRESS_MIN_LENGTH"]`` bytes (default 256: below that the CPU is wasted), and
recognise compressed data by its format's magic bytes, so values written before
compression was switched on (or below the threshold) still read back.
"""

from __future__ import annotations

import zlib
from typing import Any

from ..exceptions import ImproperlyConfigured

DEFAULT_MIN_LENGTH = 256


class IdentityCompressor:
    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = options or {}

    def compress(self, value: bytes) -> bytes:
        return value

    def decompress(self, value: bytes) -> bytes:
        return value


class _Compressor(IdentityCompressor):
    #: leading bytes of every compressed value of this format
    magic: tuple[bytes, ...] = ()

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        min_length = self.options.get("COMPRESS_MIN_LENGTH", DEFAULT_MIN_LENGTH)
        if not isinstance(min_length, int) or min_length < 0:
            raise ImproperlyConfigured(f"OPTIONS['COMPRESS_MIN_LENGTH'] must be an int >= 0, got {min_length!r}")
        self.min_length = min_length

    def compress(self, value: bytes) -> bytes:
        if len(value) <= self.min_length:
            return value
        return self._compress(value)

    def decompress(self, value: bytes) -> bytes:
        if value.startswith(self.magic):
            return self._decompress(value)
        return value

    def _compress(self, value: bytes) -> bytes:
        raise NotImplementedError

    def _decompress(self, value: bytes) -> bytes:
        raise NotImplementedError


class ZlibCompressor(_Compressor):
    # zlib's first byte is 0x78 for the default 32K window; the second encodes the level.
    magic = (b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda")

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.level = int(self.options.get("COMPRESS_LEVEL", 6))

    def _compress(self, value: bytes) -> bytes:
        return zlib.compress(value, self.level)

    def _decompress(self, value: bytes) -> bytes:
        return zlib.decompress(value)


class ZstdCompressor(_Compressor):
    """zstd (``pip install zstandard``)."""

    magic = (b"\x28\xb5\x2f\xfd",)

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        try:
            import zstandard
        except ImportError:
            raise ImproperlyConfigured(
                "OPTIONS['COMPRESSOR'] is zstd but zstandard is not installed: pip install zstandard"
            )
        level = int(self.options.get("COMPRESS_LEVEL", 3))
        self._compressor = zstandard.ZstdCompressor(level=level)
        self._decompressor = zstandard.ZstdDecompressor()

    def _compress(self, value: bytes) -> bytes:
        return self._compressor.compress(value)

    def _decompress(self, value: bytes) -> bytes:
        return self._decompressor.decompress(value)


class LZ4Compressor(_Compressor):
    """lz4 frames (``pip install lz4``), the format django-redis's LZ4Compressor writes."""

    magic = (b"\x04\x22\x4d\x18",)

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        try:
            import lz4.frame
        except ImportError:
            raise ImproperlyConfigured("OPTIONS['COMPRESSOR'] is lz4 but lz4 is not installed: pip install lz4")
        self._frame = lz4.frame

    def _compress(self, value: bytes) -> bytes:
        return self._frame.compress(value)  # type: ignore[no-any-return]

    def _decompress(self, value: bytes) -> bytes:
        return self._frame.decompress(value)  # type: ignore[no-any-return]
