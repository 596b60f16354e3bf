"""The ``REDIS_PATTERNS`` setting, read through typed, defaulted section objects.

Layout::

    REDIS_PATTERNS = {
        "USING": "default",            # cache alias every pattern uses unless told otherwise
        "SESSIONS": {...},             # django_redis_patterns.sessions.conf.SessionSettings
        "RATELIMIT": {...},            # django_redis_patterns.ratelimit.conf.RatelimitSettings
        "LOCKS": {...},                # django_redis_patterns.locks.conf.LockSettings
        "LEADERBOARD": {...},          # django_redis_patterns.leaderboard.conf.LeaderboardSettings
    }

Each section is a frozen dataclass owned by its app; this module only knows where they
live, so an app adds a setting by adding a field to its own dataclass. A section may also
read a peer package's top-level settings as aliases of its fields (``ALIASES``, e.g.
``RATELIMIT_ENABLE`` for ``REDIS_PATTERNS["RATELIMIT"]["ENABLE"]``); a key given in
``REDIS_PATTERNS`` wins. Values are read
once and cached until Django's ``setting_changed`` signal says otherwise (tests using
``override_settings`` see their values).
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, TypeVar

from django.conf import settings
from django.core.signals import setting_changed

from .exceptions import ImproperlyConfigured

SETTING_NAME = "REDIS_PATTERNS"

#: section name -> "module:DataclassName"; the dataclass fields are the valid keys.
SECTIONS: dict[str, str] = {
    "SESSIONS": "django_redis_patterns.sessions.conf:SessionSettings",
    "RATELIMIT": "django_redis_patterns.ratelimit.conf:RatelimitSettings",
    "LOCKS": "django_redis_patterns.locks.conf:LockSettings",
    "LEADERBOARD": "django_redis_patterns.leaderboard.conf:LeaderboardSettings",
}


@dataclasses.dataclass(frozen=True)
class CoreSettings:
    #: Cache alias used by every pattern that is not given ``using=`` explicitly.
    USING: str = "default"
    #: Seconds an alias fails fast after Redis timed out or refused, before one call probes it
    #: (0: no circuit breaker). An alias's OPTIONS["CIRCUIT_BREAKER_COOLDOWN"] overrides it.
    #: Same as ``client.breaker.DEFAULT_COOLDOWN`` (not imported: the client layer sits below).
    CIRCUIT_BREAKER_COOLDOWN: float = 2.0

    def __post_init__(self) -> None:
        from .client.breaker import cooldown_seconds

        value = cooldown_seconds(self.CIRCUIT_BREAKER_COOLDOWN, f"{SETTING_NAME}['CIRCUIT_BREAKER_COOLDOWN']")
        object.__setattr__(self, "CIRCUIT_BREAKER_COOLDOWN", value)


T = TypeVar("T")

_cache: dict[str, Any] = {}


def raw() -> dict[str, Any]:
    value = getattr(settings, SETTING_NAME, None) or {}
    if not isinstance(value, dict):
        raise ImproperlyConfigured(f"{SETTING_NAME} must be a dict, got {type(value).__name__}")
    return value


def section_class(name: str) -> type:
    module_name, _, class_name = SECTIONS[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]


def _build(cls: type[T], values: dict[str, Any], where: str) -> T:
    if not isinstance(values, dict):
        raise ImproperlyConfigured(f"{where} must be a dict, got {type(values).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - known)
    if unknown:
        raise ImproperlyConfigured(
            f"{where} has unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(known))}"
        )
    return cls(**values)


def core() -> CoreSettings:
    """The top-level settings (``USING``)."""
    if "" not in _cache:
        top = {k: v for k, v in raw().items() if k not in SECTIONS}
        _cache[""] = _build(CoreSettings, top, SETTING_NAME)
    return _cache[""]  # type: ignore[no-any-return]


def aliased_values(cls: type, given: dict[str, Any]) -> dict[str, Any]:
    """Values of the section's fields set through the aliases in ``cls.ALIASES`` (a dict
    ``{"TOP_LEVEL_SETTING": "FIELD"}`` or ``{"TOP_LEVEL_SETTING": ("FIELD", convert)}``),
    for fields not in ``given``."""
    values: dict[str, Any] = {}
    for legacy, target in getattr(cls, "ALIASES", {}).items():
        field, convert = target if isinstance(target, tuple) else (target, None)
        if field in given or field in values or not hasattr(settings, legacy):
            continue
        value = getattr(settings, legacy)
        values[field] = convert(value) if convert is not None else value
    return values


def section(name: str) -> Any:
    """The dataclass instance of one section, defaults filled in.

    A section's ``USING`` field, when it has one and it is ``None``, falls back to the
    top-level ``USING``.
    """
    if name not in _cache:
        cls = section_class(name)
        given = raw().get(name, {})
        if isinstance(given, dict):
            given = {**aliased_values(cls, given), **given}
        obj: Any = _build(cls, given, f"{SETTING_NAME}[{name!r}]")
        if getattr(obj, "USING", "") is None:
            obj = dataclasses.replace(obj, USING=core().USING)
        _cache[name] = obj
    return _cache[name]


def default_alias(using: str | None = None, section_name: str | None = None) -> str:
    """Resolve the cache alias a pattern should use: explicit > section > top-level."""
    if using:
        return using
    if section_name is not None:
        value = getattr(section(section_name), "USING", None)
        if value:
            return str(value)
    return core().USING


def _aliases() -> set[str]:
    return {legacy for name in SECTIONS for legacy in getattr(section_class(name), "ALIASES", {})}


def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting in (SETTING_NAME, "CACHES") or setting in _aliases():
        _cache.clear()


setting_changed.connect(_reset, dispatch_uid="django_redis_patterns.conf.reset")
