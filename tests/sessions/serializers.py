"""A SESSION_SERIALIZER for the tests: JSON that also round-trips sets (Django's JSONSerializer cannot)."""

from __future__ import annotations

import json
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, set):
        return {"__set__": sorted(value)}
    raise TypeError(f"{type(value).__name__} is not serializable")


def _hook(obj: dict[str, Any]) -> Any:
    return set(obj["__set__"]) if set(obj) == {"__set__"} else obj


class SetJSONSerializer:
    def dumps(self, obj: Any) -> bytes:
        return json.dumps(obj, default=_default).encode("latin-1")

    def loads(self, data: bytes) -> Any:
        return json.loads(data.decode("latin-1"), object_hook=_hook)
