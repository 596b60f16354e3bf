"""System checks for CACHES entries that use this backend (ids redis_patterns.E050-E059/W050-W059).

* E050: the backend cannot be built from its OPTIONS (bad serializer path, CLEAR mode...);
  one message per bad option, all in one run.
* W050: an OPTIONS key nobody reads (a typo such as ``IGNORE_EXCEPTION``).
* W051: a ``KEY_PREFIX`` with a ``{hash tag}`` on Cluster: every key lands in one slot,
  so one node takes the whole cache's traffic.
* E052: another pattern's keys (sessions, locks, rate limits, leaderboards) would start with
  ``<KEY_PREFIX>:<integer>:``, the cache's own keyspace, so ``clear()`` would delete them.
"""

from __future__ import annotations

import difflib
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.utils.module_loading import import_string

from ..client import connections
from ..exceptions import ImproperlyConfigured, RedisPatternsError
from . import keyspace
from .backend import BACKEND_OPTIONS, CONNECTION_OPTIONS, RedisCache

# django-redis's options: mapped onto ours or refused (system check E009) by
# client/django_redis_options.py, so never "unknown".
_ALSO_ACCEPTED = {
    "CLIENT_CLASS",
    "CONNECTION_POOL_CLASS",
    "CONNECTION_POOL_CLASS_KWARGS",
    "PARSER_CLASS",
    "REDIS_CLIENT_CLASS",
    "REDIS_CLIENT_KWARGS",
    "CONNECTION_FACTORY",
    "SENTINELS",
    "SENTINEL_KWARGS",
    "REPLICA_READ_ONLY",
}
KNOWN_OPTIONS = sorted(BACKEND_OPTIONS | CONNECTION_OPTIONS | _ALSO_ACCEPTED)


def _is_ours(backend: str) -> bool:
    try:
        cls = import_string(backend)
    except Exception:
        return False
    return isinstance(cls, type) and issubclass(cls, RedisCache)


#: Options checked together (one reads another); every other option is checked alone.
_TOGETHER = (
    {"SERIALIZER", "PICKLE_VERSION", "SIGNED_SERIALIZER", "SIGNING_SALT"},
    {"COMPRESSOR", "COMPRESS_MIN_LENGTH", "COMPRESS_LEVEL"},
    {"STAMPEDE", "STAMPEDE_BETA", "STAMPEDE_LOCK_TIMEOUT"},
)


def _build(config: dict[str, Any], options: dict[str, Any]) -> tuple[Any, Exception | None]:
    """(the backend, None) or (None, why it cannot be built from these OPTIONS)."""
    try:
        backend = import_string(config["BACKEND"])(config.get("LOCATION", ""), {**config, "OPTIONS": options})
        error = getattr(backend, "_configure_error", None)
        if error is not None:
            raise error
    except (RedisPatternsError, ValueError, TypeError, ImportError) as exc:
        return None, exc
    return backend, None


def _each_bad_option(config: dict[str, Any], options: dict[str, Any], error: Exception | None) -> list[str]:
    """Every bad option's error, not only the first one the backend trips on.

    The backend stops at its first bad option, so each option (or group of options that
    belong together) is tried on its own beside the connection options; if none fails
    alone, the combination is at fault and the backend's own error is reported.
    """
    connection = {k: v for k, v in options.items() if k in CONNECTION_OPTIONS or str(k).startswith("SSL_")}
    rest = [k for k in options if k not in connection]
    found: list[str] = []
    done: set[str] = set()
    for key in rest:
        if key in done:
            continue
        group = next((g & set(rest) for g in _TOGETHER if key in g), {key})
        done |= group
        _, problem = _build(config, {**connection, **{k: options[k] for k in rest if k in group}})
        if problem is not None and str(problem) not in found:
            found.append(str(problem))
    return found or [str(error)]


@register(Tags.caches)
def check_cache_options(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for alias, config in (getattr(settings, "CACHES", None) or {}).items():
        if not _is_ours(config.get("BACKEND", "")):
            continue
        options = config.get("OPTIONS") or {}
        for key in options:
            if isinstance(key, str) and key.isupper() and key not in KNOWN_OPTIONS and not key.startswith("SSL_"):
                close = difflib.get_close_matches(key, KNOWN_OPTIONS, n=1)
                messages.append(
                    Warning(
                        f"CACHES[{alias!r}]['OPTIONS'] has a key {key!r} that this backend does not read.",
                        hint=(f"Did you mean {close[0]!r}? " if close else "") + f"Known: {', '.join(KNOWN_OPTIONS)}.",
                        id="redis_patterns.W050",
                    )
                )
        try:
            connections.parse(config.get("LOCATION", ""), options)
        except ImproperlyConfigured:
            continue  # a malformed LOCATION or connection option is redis_patterns.E003's to report
        backend, error = _build(config, options)
        if backend is None:
            messages += [
                Error(f"CACHES[{alias!r}] cannot be used: {problem}", id="redis_patterns.E050", obj=alias)
                for problem in _each_bad_option(config, options, error)
            ]
            continue
        prefix = str(config.get("KEY_PREFIX", ""))
        if backend._cluster and "{" in prefix and "}" in prefix.split("{", 1)[1]:
            messages.append(
                Warning(
                    f"CACHES[{alias!r}]['KEY_PREFIX'] = {prefix!r} contains a hash tag: on Redis Cluster every "
                    "key of this cache maps to one slot, so one node serves the whole cache.",
                    hint="Remove the braces from KEY_PREFIX.",
                    id="redis_patterns.W051",
                )
            )
        if "KEY_FUNCTION" not in config:
            messages.extend(_keyspace_overlaps(alias, prefix))
    return messages


def _pattern_key_starts() -> list[tuple[str, str]]:
    """(setting, how that pattern's keys start) for each pattern whose settings are valid."""
    from .. import conf

    starts: list[tuple[str, str]] = []
    where = conf.SETTING_NAME
    for section, shape in (("LOCKS", "{}{{"), ("RATELIMIT", "{}:{{"), ("LEADERBOARD", "{}:{{")):
        try:
            prefix = conf.section(section).KEY_PREFIX
        except Exception:
            continue  # an invalid section is that app's own check to report
        if isinstance(prefix, str):
            starts.append((f'{where}["{section}"]["KEY_PREFIX"]', shape.format(prefix)))
    return starts


def _keyspace_overlaps(alias: str, prefix: str) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    candidates = _pattern_key_starts()
    if getattr(settings, "SESSION_CACHE_ALIAS", "default") == alias:
        from .. import conf

        try:
            session_prefix = conf.section("SESSIONS").KEY_PREFIX
        except Exception:
            session_prefix = None
        if isinstance(session_prefix, str):
            start = f"{prefix}:{session_prefix}" if prefix else session_prefix
            candidates.append((f'{conf.SETTING_NAME}["SESSIONS"]["KEY_PREFIX"]', start))
    for setting, start in candidates:
        if keyspace.overlaps(prefix, start):
            messages.append(
                Error(
                    f"{setting} makes keys that start with {start!r}: inside the keyspace of cache "
                    f"{alias!r} (KEY_PREFIX {prefix!r}, keys '<KEY_PREFIX>:<version>:<key>'), so its "
                    "clear() would delete them.",
                    hint="Choose a prefix whose segment after the cache's KEY_PREFIX is not an integer.",
                    id="redis_patterns.E052",
                    obj=alias,
                )
            )
    return messages
