"""System checks for the settings every pattern relies on.

Id ranges, so each app can add its own without clashing:
core E001–E009, sessions E010–E019, rate limiting E020–E029, locks E030–E039,
leaderboards E040–E049, cache E050–E059 (W0xx likewise for warnings).
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

from . import conf
from .client import connections
from .exceptions import ImproperlyConfigured


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"Did you mean {close[0]!r}? " if close else ""


def check_setting_keys() -> list[CheckMessage]:
    """E004 unknown keys (typos) at the top level or inside a section; E005 wrong shapes."""
    errors: list[CheckMessage] = []
    value = getattr(settings, conf.SETTING_NAME, None)
    if value is None:
        return errors
    if not isinstance(value, dict):
        return [
            Error(
                f"{conf.SETTING_NAME} must be a dict, got {type(value).__name__}.",
                hint='Example: REDIS_PATTERNS = {"USING": "default", "RATELIMIT": {...}}',
                id="redis_patterns.E005",
            )
        ]
    top_known = [f.name for f in dataclasses.fields(conf.CoreSettings)] + list(conf.SECTIONS)
    for key in value:
        if key not in top_known:
            errors.append(
                Error(
                    f"{conf.SETTING_NAME} has an unknown key {key!r}.",
                    hint=_suggest(key, top_known) + f"Valid keys: {', '.join(sorted(top_known))}.",
                    id="redis_patterns.E004",
                )
            )
    for name in conf.SECTIONS:
        if name not in value:
            continue
        section_value = value[name]
        if not isinstance(section_value, dict):
            errors.append(
                Error(
                    f"{conf.SETTING_NAME}[{name!r}] must be a dict, got {type(section_value).__name__}.",
                    id="redis_patterns.E005",
                )
            )
            continue
        known = [f.name for f in dataclasses.fields(conf.section_class(name))]
        for key in section_value:
            if key not in known:
                errors.append(
                    Error(
                        f"{conf.SETTING_NAME}[{name!r}] has an unknown key {key!r}.",
                        hint=_suggest(key, known) + f"Valid keys: {', '.join(sorted(known))}.",
                        id="redis_patterns.E004",
                    )
                )
    return errors


def referenced_aliases() -> dict[str, str]:
    """alias -> the setting that names it, for every alias a pattern will use."""
    refs: dict[str, str] = {}
    raw: Any = getattr(settings, conf.SETTING_NAME, None) or {}
    if isinstance(raw, dict):
        if raw.get("USING"):
            refs[raw["USING"]] = f"{conf.SETTING_NAME}['USING']"
        for name in conf.SECTIONS:
            section = raw.get(name)
            if isinstance(section, dict) and section.get("USING"):
                refs[section["USING"]] = f"{conf.SETTING_NAME}[{name!r}]['USING']"
        if not raw.get("USING"):
            refs.setdefault("default", f"{conf.SETTING_NAME}['USING'] (default)")
    if getattr(settings, "SESSION_ENGINE", "").startswith("django_redis_patterns."):
        alias = getattr(settings, "SESSION_CACHE_ALIAS", "default")
        refs[alias] = "SESSION_CACHE_ALIAS"
    return refs


def check_aliases() -> list[CheckMessage]:
    """E001 unknown alias, E002 alias whose backend is not Redis, E003 malformed URL/options."""
    errors: list[CheckMessage] = []
    caches = getattr(settings, "CACHES", {}) or {}
    for alias, source in referenced_aliases().items():
        if alias not in caches:
            errors.append(
                Error(
                    f"{source} names cache alias {alias!r}, which is not in CACHES.",
                    hint=_suggest(alias, list(caches)) + f"Known aliases: {', '.join(sorted(caches)) or 'none'}.",
                    id="redis_patterns.E001",
                )
            )
            continue
        backend = caches[alias].get("BACKEND", "")
        if connections.dialect_of(backend) is None:
            errors.append(
                Error(
                    f"{source} names cache alias {alias!r}, whose backend {backend!r} is not Redis.",
                    hint=f"Use BACKEND = {connections.OUR_BACKEND!r} (or django-redis's or Django's RedisCache).",
                    id="redis_patterns.E002",
                )
            )
    for alias, config in caches.items():
        backend = config.get("BACKEND", "")
        if connections.dialect_of(backend) is None:
            continue
        try:
            connections.parse(
                config.get("LOCATION", ""),
                config.get("OPTIONS") or {},
                dialect=connections.dialect_of(backend) or "upper",
                argument=f"CACHES[{alias!r}]['LOCATION']",
            )
        except ImproperlyConfigured as exc:
            errors.append(
                Error(
                    f"Cache alias {alias!r} cannot be used: {exc}",
                    hint="Examples: redis://127.0.0.1:6379/0, rediss://host:6380/0, unix:///run/redis.sock, "
                    "redis+sentinel://h1:26379,h2:26379/mymaster/0, redis+cluster://h1:7000,h2:7001",
                    id="redis_patterns.E003",
                )
            )
    return errors


@register(Tags.compatibility, Tags.caches)
def redis_patterns_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return check_setting_keys() + check_aliases()
