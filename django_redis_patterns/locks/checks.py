"""System checks of REDIS_PATTERNS["LOCKS"] (ids redis_patterns.E030–E039, W030–W039)."""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.core.checks import CheckMessage, Error, Warning, register


def _section() -> dict[str, Any] | None:
    value = getattr(django_settings, "REDIS_PATTERNS", None)
    if not isinstance(value, dict) or not isinstance(value.get("LOCKS"), dict):
        return None
    return value["LOCKS"]


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


@register("redis_patterns")
def check_lock_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    raw = _section()
    if raw is None:
        return []
    where = 'REDIS_PATTERNS["LOCKS"]'
    errors: list[CheckMessage] = []
    prefix = raw.get("KEY_PREFIX", "drp:lock:")
    if not isinstance(prefix, str) or "{" in prefix or "}" in prefix:
        errors.append(
            Error(
                f"{where}['KEY_PREFIX'] must be a string without '{{' or '}}', got {prefix!r}.",
                hint="The lock name is the key's {hash tag}; braces in the prefix would take its place.",
                id="redis_patterns.E030",
            )
        )
    wait = raw.get("WAIT_SLICE", 1.0)
    if not _is_number(wait) or wait <= 0:
        errors.append(
            Error(f"{where}['WAIT_SLICE'] must be a number of seconds > 0, got {wait!r}.", id="redis_patterns.E031")
        )
    drift = raw.get("REDLOCK_DRIFT_FACTOR", 0.01)
    if not _is_number(drift) or not 0 <= drift < 1:
        errors.append(
            Error(f"{where}['REDLOCK_DRIFT_FACTOR'] must be in [0, 1), got {drift!r}.", id="redis_patterns.E032")
        )
    for name in ("BUSY_EXIT_CODE", "UNAVAILABLE_EXIT_CODE", "LOST_EXIT_CODE"):
        code = raw.get(name, 1)
        if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 255:
            errors.append(
                Error(f"{where}['{name}'] must be an exit status 0..255, got {code!r}.", id="redis_patterns.E033")
            )
    if raw.get("LOST_EXIT_CODE") == 0:
        errors.append(
            Warning(
                f"{where}['LOST_EXIT_CODE'] is 0: a command that lost its lock mid-run will look successful.",
                id="redis_patterns.W030",
            )
        )
    return errors
