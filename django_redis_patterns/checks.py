"""System checks for the settings every pattern relies on.

Id ranges, so each app can add its own without clashing:
core E001–E009 (W001–W009), sessions E010–E019, rate limiting E020–E029, locks E030–E039,
leaderboards E040–E049, cache E050–E059 (W0xx likewise for warnings).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

from . import conf, deploy, installed
from .client import connections
from .client.django_redis_options import HANDLED, UnsupportedOptions
from .exceptions import ImproperlyConfigured, InvalidDatabase, InvalidOptions


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
    """E001 unknown alias, E002 alias whose backend is not Redis, E003 malformed URL, E007 bad db, E008 bad OPTIONS,
    E009 django-redis settings this package cannot honour."""
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
    used = referenced_aliases()
    for alias, config in caches.items():
        backend = config.get("BACKEND", "")
        if connections.dialect_of(backend) is None:
            continue
        dialect = connections.dialect_of(backend) or "upper"
        options = config.get("OPTIONS") or {}
        # An alias that stays on django-redis and that no pattern uses may keep settings only
        # django-redis honours (ShardClient...): nothing here reads it.
        foreign = alias not in used and backend in connections.FOREIGN_BACKENDS
        errors += _check_location(alias, config.get("LOCATION", ""), options, dialect, foreign=foreign)
        errors += _check_options(alias, options, dialect)
    return errors


URL_EXAMPLES = (
    "Examples: redis://127.0.0.1:6379/0, rediss://host:6380/0, unix:///run/redis.sock?db=0, "
    "redis+sentinel://h1:26379,h2:26379/mymaster/0, redis+cluster://h1:7000,h2:7001"
)


def _check_location(
    alias: str, location: Any, options: Any, dialect: str, *, foreign: bool = False
) -> list[CheckMessage]:
    """E003 a LOCATION that is not a Redis URL; E007 a db in it that Redis cannot select; E009 a
    django-redis setting (CLIENT_CLASS, SENTINELS...) that cannot be honoured."""
    # Only the django-redis options that decide the topology: a bad connection option is E008's
    # to report, and must not hide a bad URL.
    options = {k: v for k, v in options.items() if k in HANDLED} if isinstance(options, Mapping) else {}
    try:
        connections.parse(location, options, dialect=dialect, argument=f"CACHES[{alias!r}]['LOCATION']")
    except UnsupportedOptions as exc:
        if foreign:
            return []
        return [
            Error(
                f"Cache alias {alias!r} cannot be used: CACHES[{alias!r}]['OPTIONS']{message.removeprefix('OPTIONS')}.",
                hint="docs/cache.md, 'Migrating from django-redis', lists what is read, mapped and refused.",
                id="redis_patterns.E009",
                obj=option,
            )
            for option, message in exc.problems
        ]
    except InvalidDatabase as exc:
        return [
            Error(
                f"Cache alias {alias!r} cannot be used: {exc}.",
                hint="The db is the URL's path (redis://host:6379/<db>), ?db=<db> for unix://, "
                "/<service>/<db> for Sentinel, and always 0 on Redis Cluster.",
                id="redis_patterns.E007",
            )
        ]
    except ImproperlyConfigured as exc:
        return [Error(f"Cache alias {alias!r} cannot be used: {exc}", hint=URL_EXAMPLES, id="redis_patterns.E003")]
    return []


#: Connection OPTIONS (django-redis's names) and what each accepts; Django's built-in
#: backend takes the lower-case redis-py names instead (``socket_timeout``, ``db``...).
CONNECTION_OPTION_VALUES: dict[str, str] = {
    "PASSWORD": "a string",
    "USERNAME": "a string (Redis 6 ACL user)",
    "SOCKET_TIMEOUT": "seconds, a number > 0 (default 2.0)",
    "SOCKET_CONNECT_TIMEOUT": "seconds, a number > 0 (default 1.0)",
    "RETRIES": "an int >= 0 (default 1)",
    "READ_FROM_REPLICAS": "True or False",
    "LEAN_CLIENT": "True or False (default True)",
    "SPIN_WAIT_US": "microseconds a lean client polls for a reply, an int from 0 to 1000; 0 never polls (default 50)",
    "MAX_CONNECTIONS": "an int >= 1 (default 1000)",
    "SENTINEL_USERNAME": "a string",
    "SENTINEL_PASSWORD": "a string",
    "CIRCUIT_BREAKER_COOLDOWN": "seconds, a number >= 0; 0 turns the circuit breaker off (default 2.0)",
    "CONNECTION_POOL_KWARGS": "a dict of redis-py connection keyword arguments",
    "SSL_*": "redis-py's ssl_* arguments, e.g. SSL_CA_CERTS",
}


def _option_hint(option: str) -> str:
    if option == "db":
        return "OPTIONS['db'] of Django's RedisCache: a database number, an int >= 0."
    accepts = CONNECTION_OPTION_VALUES.get(option)
    head = f"{option} takes {accepts}. " if accepts else ""
    return head + "Connection OPTIONS: " + "; ".join(f"{k}: {v}" for k, v in CONNECTION_OPTION_VALUES.items())


def _check_options(alias: str, options: Any, dialect: str) -> list[CheckMessage]:
    """E008, once per invalid connection option (all of them in one run)."""
    if not isinstance(options, Mapping):
        return [
            Error(
                f"CACHES[{alias!r}]['OPTIONS'] must be a dict, got {type(options).__name__}.",
                id="redis_patterns.E008",
            )
        ]
    try:
        connections.read_options(options, dialect=dialect)
    except InvalidOptions as exc:
        return [
            Error(
                f"CACHES[{alias!r}]['OPTIONS']{message.removeprefix('OPTIONS')}.",
                hint=_option_hint(option),
                id="redis_patterns.E008",
            )
            for option, message in exc.problems
        ]
    return []


@register(Tags.compatibility, Tags.caches)
def redis_patterns_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return check_setting_keys() + check_aliases() + installed.check_installed_apps()


@register(Tags.security, Tags.caches, deploy=True)
def redis_patterns_deploy_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return deploy.check_plain_redis() + deploy.check_session_redis() + deploy.check_session_cookies()
